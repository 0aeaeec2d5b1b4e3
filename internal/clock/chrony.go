package clock

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/facebook/time/ntp/chrony"
)

// Reply decoding: the bytes chronyd sends are decoded by the library's
// decodePacket, which has its own fuzz target (FuzzDecodePacket in
// github.com/facebook/time/ntp/chrony/packet_test.go). What this file adds
// on top — the sequence check, the float-to-nanosecond conversion and the
// selection of the `*` source — is fuzzed here by FuzzChronyReply, which
// feeds arbitrary reply bytes through the same code path a poll uses.

// ChronyConfig says how to reach chronyd's command port.
type ChronyConfig struct {
	// Address is "host:port" for UDP (chronyd's default is 127.0.0.1:323;
	// tracking and sources work unprivileged) or an absolute path for the
	// unix socket (/run/chrony/chronyd.sock; needs root or the chrony group).
	Address string
	// Timeout bounds every request/reply exchange. Default 250 ms.
	Timeout time.Duration
	// MaxSources caps how many `sources` entries are read. Default 32.
	MaxSources int
}

// DefaultChronyAddress is chronyd's command port on the loopback.
const DefaultChronyAddress = "127.0.0.1:323"

func (c *ChronyConfig) withDefaults() ChronyConfig {
	out := *c
	if out.Address == "" {
		out.Address = DefaultChronyAddress
	}
	if out.Timeout == 0 {
		out.Timeout = 250 * time.Millisecond
	}
	if out.MaxSources == 0 {
		out.MaxSources = 32
	}
	return out
}

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("clock: invalid configuration")

// Validate checks the (defaulted) configuration.
func (c ChronyConfig) Validate() error {
	c = c.withDefaults()
	if c.Timeout < time.Millisecond || c.Timeout > 5*time.Second {
		return fmt.Errorf("%w: chrony timeout %v not in [1ms, 5s]", ErrConfig, c.Timeout)
	}
	if c.MaxSources < 1 || c.MaxSources > 1024 {
		return fmt.Errorf("%w: chrony MaxSources %d not in [1, 1024]", ErrConfig, c.MaxSources)
	}
	if !filepath.IsAbs(c.Address) {
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			return fmt.Errorf("%w: chrony address %q is neither host:port nor an absolute socket path: %w", ErrConfig, c.Address, err)
		}
	}
	return nil
}

// deadlineConn is the connection a chronySource talks over.
type deadlineConn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
}

// chronySource polls one chronyd. It is used by one goroutine only.
type chronySource struct {
	cfg  ChronyConfig
	dial func() (deadlineConn, error)
	daemonConn
}

// localSeq makes the client socket paths of several sources in one process
// distinct.
var localSeq atomic.Uint64

func newChronySource(cfg ChronyConfig) *chronySource {
	s := &chronySource{cfg: cfg.withDefaults()}
	s.dial = s.dialNet
	return s
}

func (s *chronySource) dialNet() (deadlineConn, error) {
	if !filepath.IsAbs(s.cfg.Address) {
		d := net.Dialer{Timeout: s.cfg.Timeout}
		c, err := d.Dial("udp", s.cfg.Address)
		if err != nil {
			return nil, err
		}
		return c.(*net.UDPConn), nil
	}
	// chronyd answers a unix-socket request by sending to the client's own
	// bound address, so we bind one first, next to chronyd's socket as
	// chronyc does; chronyd must be able to write to it.
	return s.dialUnixgram(s.cfg.Address, "fixtap", 0o666)
}

// poll asks chronyd for tracking and sources. It never returns nil: a
// failure gives Reachable false and the error text. now is read after the
// replies so that LastUpdateAgeNs is not understated.
func (s *chronySource) poll(now func() time.Time) *ChronyData {
	d, err := s.query(now)
	if err != nil {
		s.close() // redial next time: chronyd may have restarted
		return &ChronyData{Err: err.Error()}
	}
	return d
}

func (s *chronySource) query(now func() time.Time) (*ChronyData, error) {
	if s.conn == nil {
		c, err := s.dial()
		if err != nil {
			return nil, fmt.Errorf("dial chronyd %s: %w", s.cfg.Address, err)
		}
		s.conn = c
	}
	cl := &chrony.Client{Connection: s.conn, Sequence: uint32(time.Now().UnixNano())}
	var tr *chrony.ReplyTracking
	if err := s.exchange(cl, chrony.NewTrackingPacket(), &tr); err != nil {
		return nil, err
	}
	var ns *chrony.ReplySources
	if err := s.exchange(cl, chrony.NewSourcesPacket(), &ns); err != nil {
		return nil, err
	}
	d := &ChronyData{
		Reachable:            true,
		RefID:                tr.RefID,
		Stratum:              tr.Stratum,
		Leap:                 tr.LeapStatus,
		CurrentCorrectionNs:  secondsToNs(tr.CurrentCorrection),
		LastOffsetNs:         secondsToNs(tr.LastOffset),
		RMSOffsetNs:          secondsToNs(tr.RMSOffset),
		RootDelayNs:          secondsToNs(tr.RootDelay),
		RootDispersionNs:     secondsToNs(tr.RootDispersion),
		LastUpdateIntervalNs: secondsToNs(tr.LastUpdateInterval),
		FreqPPB:              secondsToNs(tr.FreqPPM / 1e6), // ppm → ppb
		NumSources:           ns.NSources,
	}
	if tr.IPAddr != nil {
		d.RefAddr = tr.IPAddr.String()
	}
	if t := tr.RefTime; t.Unix() != 0 {
		d.RefTime = t.UTC()
	}
	for i := 0; i < min(ns.NSources, s.cfg.MaxSources); i++ {
		var sd *chrony.ReplySourceData
		if err := s.exchange(cl, chrony.NewSourceDataPacket(int32(i)), &sd); err != nil {
			return nil, err
		}
		if sd.State == chrony.SourceStateSync {
			d.Selected = true
			d.SelectedAddr = sd.IPAddr.String()
			d.SelectedPoll = sd.Poll
			d.SelectedReach = sd.Reachability
			d.SinceSampleSec = sd.SinceSample
			break
		}
	}
	if !d.RefTime.IsZero() {
		// chronyd keeps RefTime on its own (NTP) timescale, which is the
		// system time plus CurrentCorrection ("slow of NTP time" > 0).
		d.LastUpdateAgeNs = int64(now().Add(time.Duration(d.CurrentCorrectionNs)).Sub(d.RefTime))
	}
	return d, nil
}

// exchange sends req under the configured deadline and stores the reply,
// which must be of type T and carry the request's sequence number (the
// library does not check it; over UDP a late reply to an earlier, timed-out
// request must not be taken for this one).
func exchange[T chrony.ResponsePacket](s *chronySource, cl *chrony.Client, req chrony.RequestPacket, out *T) error {
	if err := s.conn.SetDeadline(time.Now().Add(s.cfg.Timeout)); err != nil {
		return fmt.Errorf("chronyd %s: set deadline: %w", s.cfg.Address, err)
	}
	reply, err := cl.Communicate(req)
	if err != nil {
		return fmt.Errorf("chronyd %s: command %d: %w", s.cfg.Address, req.GetCommand(), err)
	}
	r, ok := reply.(T)
	if !ok {
		return fmt.Errorf("chronyd %s: command %d: unexpected reply %T", s.cfg.Address, req.GetCommand(), reply)
	}
	if seq := replySeq(reply); seq != cl.Sequence {
		return fmt.Errorf("chronyd %s: command %d: reply sequence %d, want %d", s.cfg.Address, req.GetCommand(), seq, cl.Sequence)
	}
	*out = r
	return nil
}

func replySeq(p chrony.ResponsePacket) uint32 {
	switch r := p.(type) {
	case *chrony.ReplyTracking:
		return r.Sequence
	case *chrony.ReplySources:
		return r.Sequence
	case *chrony.ReplySourceData:
		return r.Sequence
	}
	return 0
}

// exchange is a method-shaped wrapper so call sites read naturally.
func (s *chronySource) exchange(cl *chrony.Client, req chrony.RequestPacket, out any) error {
	switch o := out.(type) {
	case **chrony.ReplyTracking:
		return exchange(s, cl, req, o)
	case **chrony.ReplySources:
		return exchange(s, cl, req, o)
	case **chrony.ReplySourceData:
		return exchange(s, cl, req, o)
	}
	return fmt.Errorf("clock: internal error: no reply type %T", out)
}

// String describes the source for logs.
func (s *chronySource) String() string {
	kind := "udp"
	if strings.HasPrefix(s.cfg.Address, "/") {
		kind = "unix"
	}
	return "chronyd " + kind + " " + s.cfg.Address
}

// daemonConn is the connection of a source to its daemon, and for a unix
// datagram socket our own bound path, removed on close.
type daemonConn struct {
	conn  deadlineConn
	local string
}

// dialUnixgram binds a client socket next to the daemon's (chronyd and
// ptp4l answer to the client's bound address, as chronyc and pmc do),
// named <prefix>.<pid>.<n>.sock, with mode when non-zero.
func (d *daemonConn) dialUnixgram(remote, prefix string, mode os.FileMode) (deadlineConn, error) {
	local := filepath.Join(filepath.Dir(remote), fmt.Sprintf("%s.%d.%d.sock", prefix, os.Getpid(), localSeq.Add(1)))
	c, err := net.DialUnix("unixgram",
		&net.UnixAddr{Name: local, Net: "unixgram"},
		&net.UnixAddr{Name: remote, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	if mode != 0 {
		if err := os.Chmod(local, mode); err != nil {
			c.Close()
			os.Remove(local)
			return nil, err
		}
	}
	d.local = local
	return c, nil
}

// close closes the connection and removes our socket path.
func (d *daemonConn) close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	if d.local != "" {
		if rerr := os.Remove(d.local); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
		d.local = ""
	}
	return err
}
