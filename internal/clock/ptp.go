package clock

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	ptp "github.com/facebook/time/ptp/protocol"
)

// Reply decoding: ptp4l's management replies are decoded by the library's
// protocol.DecodePacket, which has its own fuzz target (FuzzDecodePacket in
// github.com/facebook/time/ptp/protocol/protocol_test.go, seeded with
// management messages). What this file adds — sequence matching, the
// conversion of TimeInterval to integer nanoseconds, the freshness of
// TIME_STATUS_NP — is fuzzed by FuzzPTPReply.

// PTPConfig says how to reach ptp4l's management socket.
type PTPConfig struct {
	// Socket is ptp4l's uds_address (default /var/run/ptp4l). Reading the
	// data sets needs write access to it (root, or a group set up by the
	// operator).
	Socket string
	// Domain is the PTP domainNumber ptp4l runs in.
	Domain uint8
	// Timeout bounds every request/reply exchange. Default 250 ms.
	Timeout time.Duration
}

// DefaultPTPSocket is ptp4l's default management socket.
const DefaultPTPSocket = "/var/run/ptp4l"

func (c *PTPConfig) withDefaults() PTPConfig {
	out := *c
	if out.Socket == "" {
		out.Socket = DefaultPTPSocket
	}
	if out.Timeout == 0 {
		out.Timeout = 250 * time.Millisecond
	}
	return out
}

// Validate checks the (defaulted) configuration.
func (c PTPConfig) Validate() error {
	c = c.withDefaults()
	if !filepath.IsAbs(c.Socket) {
		return fmt.Errorf("%w: ptp4l socket %q is not an absolute path", ErrConfig, c.Socket)
	}
	if c.Timeout < time.Millisecond || c.Timeout > 5*time.Second {
		return fmt.Errorf("%w: ptp4l timeout %v not in [1ms, 5s]", ErrConfig, c.Timeout)
	}
	return nil
}

// ptpSource polls one ptp4l. It is used by one goroutine only.
type ptpSource struct {
	cfg  PTPConfig
	dial func() (deadlineConn, error)
	daemonConn
	seq uint16

	// Freshness of TIME_STATUS_NP: ingress_time is on the PHC's timescale
	// (often TAI), so it is not compared with the system clock; instead we
	// note, on our monotonic clock, when it last changed.
	lastIngress int64
	lastChange  time.Time
}

func newPTPSource(cfg PTPConfig) *ptpSource {
	s := &ptpSource{cfg: cfg.withDefaults()}
	s.dial = s.dialUnix
	return s
}

func (s *ptpSource) dialUnix() (deadlineConn, error) {
	return s.dialUnixgram(s.cfg.Socket, "fixtap.ptp", 0)
}

// poll reads PORT_PROPERTIES_NP (port state; the library has no
// PORT_DATA_SET decoder, and ptp4l reports the same state in both),
// TIME_STATUS_NP, CURRENT_DATA_SET and PARENT_DATA_SET. It never returns
// nil. Only a one-port ptp4l (an ordinary clock) is supported: for several
// ports the first answer is used.
func (s *ptpSource) poll(now func() time.Time) *PTPData {
	d, err := s.query(now)
	if err != nil {
		s.close()
		s.lastChange = time.Time{}
		return &PTPData{Err: err.Error()}
	}
	return d
}

func (s *ptpSource) query(now func() time.Time) (*PTPData, error) {
	if s.conn == nil {
		c, err := s.dial()
		if err != nil {
			return nil, fmt.Errorf("dial ptp4l %s: %w", s.cfg.Socket, err)
		}
		s.conn = c
	}
	pp, err := ptpExchange[*ptp.PortPropertiesNPTLV](s, ptp.PortPropertiesNPRequest())
	if err != nil {
		return nil, err
	}
	ts, err := ptpExchange[*ptp.TimeStatusNPTLV](s, ptp.TimeStatusNPRequest())
	if err != nil {
		return nil, err
	}
	cd, err := ptpExchange[*ptp.CurrentDataSetTLV](s, ptp.CurrentDataSetRequest())
	if err != nil {
		return nil, err
	}
	pd, err := ptpExchange[*ptp.ParentDataSetTLV](s, ptp.ParentDataSetRequest())
	if err != nil {
		return nil, err
	}
	t := now()
	age := int64(-1) // unknown until ingress_time is seen to move
	switch {
	case ts.IngressTimeNS == 0: // no Sync received yet: nothing measured
		s.lastChange = time.Time{}
	case s.lastChange.IsZero():
		s.lastChange = t
	case ts.IngressTimeNS != s.lastIngress:
		s.lastChange = t
		age = 0
	default:
		age = int64(t.Sub(s.lastChange))
	}
	s.lastIngress = ts.IngressTimeNS
	return &PTPData{
		Reachable:          true,
		PortState:          portStateString(pp.PortState),
		MasterOffsetNs:     ts.MasterOffsetNS,
		MeanPathDelayNs:    intervalNs(cd.MeanPathDelay),
		OffsetFromMasterNs: intervalNs(cd.OffsetFromMaster),
		GMPresent:          ts.GMPresent != 0,
		GMIdentity:         ts.GMIdentity.String(),
		ClockClass:         uint8(pd.GrandmasterClockQuality.ClockClass),
		ClockAccuracy:      uint8(pd.GrandmasterClockQuality.ClockAccuracy),
		AgeNs:              age,
	}, nil
}

func portStateString(p ptp.PortState) string {
	if s := p.String(); s != "" {
		return s
	}
	return fmt.Sprintf("UNKNOWN(%d)", p)
}

// intervalNs converts a PTP TimeInterval (ns × 2^16) to whole ns, rounding
// away from zero so that a bound is never understated, and saturating.
func intervalNs(t ptp.TimeInterval) int64 {
	v := t.Nanoseconds()
	switch {
	case math.IsNaN(v) || v >= math.MaxInt64:
		return math.MaxInt64
	case v <= math.MinInt64:
		return math.MinInt64 + 1
	case v < 0:
		return int64(math.Floor(v))
	}
	return int64(math.Ceil(v))
}

// ptpExchange sends req under the deadline and returns its TLV of type T.
// Replies with another sequence number (a late answer to an earlier
// request, or a further port's answer) are skipped until the deadline.
func ptpExchange[T ptp.ManagementTLV](s *ptpSource, req *ptp.Management) (T, error) {
	var zero T
	if err := s.conn.SetDeadline(time.Now().Add(s.cfg.Timeout)); err != nil {
		return zero, fmt.Errorf("ptp4l %s: set deadline: %w", s.cfg.Socket, err)
	}
	s.seq++
	req.SetSequence(s.seq)
	req.SetDomainNumber(s.cfg.Domain)
	b, err := req.MarshalBinary()
	if err != nil {
		return zero, fmt.Errorf("ptp4l: encode request: %w", err)
	}
	if _, err := s.conn.Write(b); err != nil {
		return zero, fmt.Errorf("ptp4l %s: write: %w", s.cfg.Socket, err)
	}
	buf := make([]byte, 1500)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return zero, fmt.Errorf("ptp4l %s: read %T: %w", s.cfg.Socket, zero, err)
		}
		p, err := ptp.DecodePacket(buf[:n])
		if err != nil {
			return zero, fmt.Errorf("ptp4l %s: decode reply: %w", s.cfg.Socket, err)
		}
		switch m := p.(type) {
		case *ptp.ManagementMsgErrorStatus:
			if m.SequenceID != s.seq {
				continue
			}
			return zero, fmt.Errorf("ptp4l %s: management error for %T: %w", s.cfg.Socket, zero, m.ManagementErrorID)
		case *ptp.Management:
			if m.SequenceID != s.seq {
				continue
			}
			tlv, ok := m.TLV.(T)
			if !ok {
				return zero, fmt.Errorf("ptp4l %s: reply TLV %T, want %T", s.cfg.Socket, m.TLV, zero)
			}
			return tlv, nil
		default:
			return zero, fmt.Errorf("ptp4l %s: unexpected reply %T", s.cfg.Socket, p)
		}
	}
}
