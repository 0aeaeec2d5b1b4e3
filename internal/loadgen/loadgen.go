// Package loadgen is a FIX drop-copy sender for tests, demos and benchmarks:
// it logs on as an initiator and streams ExecutionReports (and order copies)
// of realistic order lifecycles at a fixed or maximum rate, can drop the
// connection mid-stream and come back, and answers ResendRequests from what
// it sent.
//
// It is deliberately not built on quickfixgo: quickfix's send path writes
// once per message and tops out near 5–7k msg/s on two cores, which would
// make the sender the bottleneck of every measurement. Here messages are
// framed straight into a buffered writer and flushed once per batch.
package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Config says what to send and how.
type Config struct {
	Addr         string // host:port of the tap
	BeginString  string
	SenderCompID string // the sender's CompID (the tap's TargetCompID)
	TargetCompID string
	HeartBtInt   int // seconds
	// Count is the number of application messages to send; Rate per second
	// (0 = as fast as possible).
	Count int
	Rate  int
	// DisconnectAfter, if > 0, drops the TCP connection (no Logout) after
	// that many application messages, sends Offline more while disconnected
	// (they take MsgSeqNums, so the tap sees a gap and asks for them), and
	// reconnects after ReconnectDelay.
	DisconnectAfter int
	Offline         int
	ReconnectDelay  time.Duration
	// Reconnect: when the connection is lost (the tap restarted or died),
	// reconnect for up to ReconnectTimeout and carry on; the tap asks for
	// what it did not record and gets it resent.
	Reconnect        bool
	ReconnectTimeout time.Duration
	// ResetSeqNum sends 141=Y on the first Logon and starts at MsgSeqNum 1.
	ResetSeqNum bool
	// StartSeq is the first MsgSeqNum when not resetting (a resumed run).
	StartSeq int
	Seed     uint64
	// IDPrefix starts every order and execution identifier of the run
	// (see Generator.Prefix).
	IDPrefix string
	// TLS, when set, wraps every connection (a client certificate in it
	// makes it mutual TLS).
	TLS *tls.Config
	// Now supplies SendingTime; tests and the demo pass the clock's.
	Now func() time.Time
	// Messages, if set, are sent in order instead of the Generator's
	// (Count, Rate and Seed are then ignored), each not before Start +
	// its At. Start (zero: when Run begins) may be shared: two senders
	// given one Start stay in step across reconnects, sending at once
	// whatever fell due while they were disconnected.
	Messages []Message
	Start    time.Time
}

// Message is one prepared application message (Config.Messages).
type Message struct {
	MsgType string        // "8", "D", …: never a session-level type
	Body    []byte        // the fields after the standard header, each ending in SOH
	PossDup bool          // sent under a new MsgSeqNum with PossDupFlag=Y and OrigSendingTime
	At      time.Duration // not sent before Config.Start + At
}

// isAdmin reports whether msgType is session-level: such a type is never
// an application message (a resend would gap-fill over it).
func isAdmin(msgType string) bool {
	switch msgType {
	case "0", "1", "2", "3", "4", "5", "A":
		return true
	}
	return false
}

// Stats is what a run did.
type Stats struct {
	Sent        int // application messages, first sends
	Resent      int // application messages resent with PossDup=Y
	GapFilled   int
	Connections int
	NextSeq     int // the next MsgSeqNum this sender would use
	Elapsed     time.Duration
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "" || c.SenderCompID == "" || c.TargetCompID == "":
		return errors.New("loadgen: Addr, SenderCompID and TargetCompID are required")
	case c.BeginString == "":
		return errors.New("loadgen: BeginString is required")
	case c.Count < 0 || c.Rate < 0 || c.DisconnectAfter < 0 || c.Offline < 0:
		return errors.New("loadgen: counts and rate must not be negative")
	case c.Now == nil:
		return errors.New("loadgen: Now is required")
	}
	for i, m := range c.Messages {
		if m.MsgType == "" || isAdmin(m.MsgType) || len(m.Body) == 0 || m.Body[len(m.Body)-1] != 1 || m.At < 0 {
			return fmt.Errorf("loadgen: message %d: want an application MsgType, a body ending in SOH and At ≥ 0", i)
		}
		if i > 0 && m.At < c.Messages[i-1].At {
			return fmt.Errorf("loadgen: message %d: At %v before the previous one's", i, m.At)
		}
	}
	return nil
}

// sender is one run's state.
type sender struct {
	cfg  Config
	gen  *Generator
	mu   sync.Mutex // guards w, seq and sent (the writer and the resend path)
	w    *bufio.Writer
	seq  int
	sent map[int]appMsg // MsgSeqNum → application message, for resends
	st   Stats
	t0   time.Time // Config.Start, or when Run began

	heartbeat chan string // TestReqIDs of Heartbeats received
	scratch   []byte      // framing buffer, reused
	tsMs      int64       // the millisecond ts caches
	ts        string      // SendingTime of tsMs
}

// appMsg is an application message as sent (and resent).
type appMsg struct {
	msgType string
	body    []byte
}

// next returns application message i of the run.
func (s *sender) next(i int) (appMsg, bool) {
	if s.cfg.Messages != nil {
		m := s.cfg.Messages[i]
		return appMsg{m.MsgType, m.Body}, m.PossDup
	}
	return appMsg{"8", s.gen.Next()}, false
}

// Run streams cfg.Count application messages (or cfg.Messages) and logs
// out.
func Run(ctx context.Context, cfg Config) (st Stats, err error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	if cfg.HeartBtInt == 0 {
		cfg.HeartBtInt = 30
	}
	if cfg.Messages != nil {
		cfg.Count, cfg.Rate = len(cfg.Messages), 0
	}
	s := &sender{cfg: cfg, gen: NewGenerator(cfg.Seed).withPrefix(cfg.IDPrefix), seq: max(cfg.StartSeq, 1), sent: map[int]appMsg{}, heartbeat: make(chan string, 16)}
	if cfg.ResetSeqNum {
		s.seq = 1
	}
	start := cfg.Now()
	s.t0 = cfg.Start
	if s.t0.IsZero() {
		s.t0 = start
	}
	defer func() { st.Elapsed = cfg.Now().Sub(start) }()
	sent := 0
	reset := cfg.ResetSeqNum
	for sent < cfg.Count || sent == 0 && cfg.Count == 0 {
		conn, rd, err := s.connect(ctx, reset)
		tries := 10
		if cfg.Reconnect {
			tries = int(max(cfg.ReconnectTimeout, time.Second) / (200 * time.Millisecond))
		}
		for try := 1; err != nil && try < tries && ctx.Err() == nil; try++ {
			// The acceptor may not have noticed the dropped connection
			// yet and refuse the new one: retry, as an engine would.
			time.Sleep(max(cfg.ReconnectDelay, 200*time.Millisecond))
			conn, rd, err = s.connect(ctx, reset)
		}
		if err != nil {
			return s.st, err
		}
		reset = false
		stop := cfg.Count
		if cfg.DisconnectAfter > 0 && sent < cfg.DisconnectAfter {
			stop = min(cfg.Count, cfg.DisconnectAfter)
		}
		readErr := make(chan error, 1)
		go func() { readErr <- s.readLoop(rd) }()
		n, err := s.stream(ctx, sent, stop, readErr)
		sent += n
		if err != nil && cfg.Reconnect && ctx.Err() == nil {
			conn.Close()
			select {
			case <-readErr:
			case <-time.After(time.Second):
			}
			if err := s.reconnectWait(ctx); err != nil {
				return s.st, err
			}
			continue
		}
		if err != nil {
			conn.Close()
			return s.st, err
		}
		if sent < cfg.Count {
			// Drop without Logout, "send" Offline messages into the gap,
			// and come back.
			conn.Close()
			<-readErr
			for i := 0; i < cfg.Offline && sent < cfg.Count; i++ {
				s.mu.Lock()
				s.sent[s.seq], _ = s.next(sent)
				s.seq++
				s.mu.Unlock()
				sent++
				s.st.Sent++
			}
			select {
			case <-ctx.Done():
				return s.st, ctx.Err()
			case <-time.After(cfg.ReconnectDelay):
			}
			continue
		}
		err = s.logout(conn, readErr)
		conn.Close()
		s.st.NextSeq = s.seq
		return s.st, err
	}
	s.st.NextSeq = s.seq
	return s.st, nil
}

func (s *sender) connect(ctx context.Context, reset bool) (net.Conn, *bufio.Reader, error) {
	var conn net.Conn
	var err error
	if s.cfg.TLS != nil {
		d := tls.Dialer{Config: s.cfg.TLS}
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loadgen: dial %s: %w", s.cfg.Addr, err)
	}
	s.st.Connections++
	s.mu.Lock()
	s.w = bufio.NewWriterSize(conn, 256<<10)
	body := "98=0\x01108=" + strconv.Itoa(s.cfg.HeartBtInt) + "\x01"
	if reset {
		body += "141=Y\x01"
	}
	if s.cfg.BeginString == "FIXT.1.1" {
		body += "1137=9\x01"
	}
	s.writeLocked("A", []byte(body), 0, false)
	err = s.w.Flush()
	s.mu.Unlock()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("loadgen: logon: %w", err)
	}
	rd := bufio.NewReaderSize(conn, 64<<10)
	conn.SetReadDeadline(s.cfg.Now().Add(10 * time.Second))
	mt, f, err := readMsg(rd)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("loadgen: awaiting Logon reply: %w", err)
	}
	if mt != "A" {
		conn.Close()
		return nil, nil, fmt.Errorf("loadgen: awaiting Logon reply, got MsgType %s (%s)", mt, f[58])
	}
	conn.SetReadDeadline(time.Time{})
	return conn, rd, nil
}

// reconnectWait pauses before the next connection attempt.
func (s *sender) reconnectWait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(max(s.cfg.ReconnectDelay, 50*time.Millisecond)):
		return nil
	}
}

// stream sends application messages [from, to) at the configured rate.
func (s *sender) stream(ctx context.Context, from, to int, readErr <-chan error) (int, error) {
	const batch = 64
	n := 0
	start := s.cfg.Now()
	for i := from; i < to; {
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case err := <-readErr:
			return n, fmt.Errorf("loadgen: connection lost: %w", err)
		default:
		}
		k := min(batch, to-i)
		if s.cfg.Messages != nil {
			// Send what is due; sleep until the next one is.
			now := s.cfg.Now().Sub(s.t0)
			due := 0
			for due < k && s.cfg.Messages[i+due].At <= now {
				due++
			}
			if due == 0 {
				time.Sleep(min(s.cfg.Messages[i].At-now, 5*time.Millisecond))
				continue
			}
			k = due
		} else if s.cfg.Rate > 0 {
			// Send what is due; sleep until the next batch is.
			due := int(s.cfg.Now().Sub(start).Seconds()*float64(s.cfg.Rate)) + 1 - (i - from)
			if due <= 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			k = min(k, due)
		}
		s.mu.Lock()
		for j := 0; j < k; j++ {
			m, possDup := s.next(i + j)
			s.sent[s.seq] = m
			s.writeLocked(m.msgType, m.body, 0, possDup)
		}
		err := s.w.Flush()
		s.mu.Unlock()
		// Written or not, these k messages have their MsgSeqNums and are
		// stored: the tap gets them by ResendRequest. They count as sent.
		n += k
		i += k
		s.st.Sent += k
		if err != nil {
			return n, fmt.Errorf("loadgen: write: %w", err)
		}
	}
	return n, nil
}

// writeLocked frames one message with the next MsgSeqNum (or origSeq for a
// resend) into the writer. s.mu must be held.
func (s *sender) writeLocked(msgType string, body []byte, origSeq int, possDup bool) {
	seq := s.seq
	if origSeq > 0 {
		seq = origSeq
	} else {
		s.seq++
	}
	now := s.sendingTime()
	b := s.scratch[:0]
	b = append(b, "35="...)
	b = append(b, msgType...)
	b = append(b, "\x0134="...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, "\x0149="...)
	b = append(b, s.cfg.SenderCompID...)
	b = append(b, "\x0152="...)
	b = append(b, now...)
	b = append(b, "\x0156="...)
	b = append(b, s.cfg.TargetCompID...)
	b = append(b, 1)
	if possDup {
		b = append(b, "43=Y\x01122="...)
		b = append(b, now...)
		b = append(b, 1)
	}
	b = append(b, body...)
	s.scratch = b
	writeFrame(s.w, s.cfg.BeginString, b)
}

// sendingTime formats the clock's time, once per millisecond.
func (s *sender) sendingTime() string {
	t := s.cfg.Now().UTC()
	if ms := t.UnixMilli(); ms != s.tsMs {
		s.tsMs, s.ts = ms, t.Format("20060102-15:04:05.000")
	}
	return s.ts
}

// writeFrame adds BeginString, BodyLength and CheckSum.
func writeFrame(w io.Writer, begin string, body []byte) {
	head := "8=" + begin + "\x019=" + strconv.Itoa(len(body)) + "\x01"
	sum := 0
	for i := 0; i < len(head); i++ {
		sum += int(head[i])
	}
	for _, c := range body {
		sum += int(c)
	}
	io.WriteString(w, head)
	w.Write(body)
	sum %= 256
	w.Write([]byte{'1', '0', '=', byte('0' + sum/100), byte('0' + sum/10%10), byte('0' + sum%10), 1})
}

// readLoop answers the tap: TestRequest → Heartbeat, ResendRequest →
// resend with PossDup=Y (application messages) or GapFill (the rest).
func (s *sender) readLoop(rd *bufio.Reader) error {
	for {
		mt, f, err := readMsg(rd)
		if err != nil {
			return err
		}
		switch mt {
		case "0":
			if id := f[112]; id != "" {
				select {
				case s.heartbeat <- id:
				default:
				}
			}
		case "1":
			s.mu.Lock()
			s.writeLocked("0", []byte("112="+f[112]+"\x01"), 0, false)
			err = s.w.Flush()
			s.mu.Unlock()
		case "2":
			err = s.resend(f)
		case "5":
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
}

func (s *sender) resend(f map[int]string) error {
	begin, _ := strconv.Atoi(f[7])
	end, _ := strconv.Atoi(f[16])
	s.mu.Lock()
	defer s.mu.Unlock()
	if end == 0 || end >= s.seq {
		end = s.seq - 1
	}
	for seq := begin; seq <= end; {
		if m, ok := s.sent[seq]; ok {
			s.writeLocked(m.msgType, m.body, seq, true)
			s.st.Resent++
			seq++
			continue
		}
		// Admin messages are not resent: gap-fill to the next stored one.
		next := seq + 1
		for next <= end {
			if _, ok := s.sent[next]; ok {
				break
			}
			next++
		}
		s.writeLocked("4", []byte("123=Y\x0136="+strconv.Itoa(next)+"\x01"), seq, true)
		s.st.GapFilled++
		seq = next
	}
	return s.w.Flush()
}

// logout first makes sure the tap has processed everything (a TestRequest
// is answered only after every message before it, resends included, went
// through the engine), then logs out and waits for the reply.
func (s *sender) logout(conn net.Conn, readErr <-chan error) error {
	// A TestRequest that a resend gap-fills over is never answered: ask
	// again until one is (each new one is behind every resend so far).
	deadline := time.After(30 * time.Second)
	for answered := false; !answered; {
		id := "barrier-" + strconv.Itoa(s.seq)
		s.mu.Lock()
		s.writeLocked("1", []byte("112="+id+"\x01"), 0, false)
		err := s.w.Flush()
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("loadgen: test request: %w", err)
		}
		retry := time.After(2 * time.Second)
		for waiting := true; waiting && !answered; {
			select {
			case got := <-s.heartbeat:
				answered = got == id
			case <-retry:
				waiting = false
			case err := <-readErr:
				return fmt.Errorf("loadgen: connection lost before logout: %w", err)
			case <-deadline:
				return errors.New("loadgen: the tap did not answer a TestRequest within 30s")
			}
		}
	}
	s.mu.Lock()
	s.writeLocked("5", nil, 0, false)
	err := s.w.Flush()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("loadgen: logout: %w", err)
	}
	select {
	case <-readErr:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("loadgen: no Logout reply within 10s")
	}
}

// readMsg reads one FIX message and returns its MsgType and fields (last
// occurrence wins; the sender reads only simple session messages).
func readMsg(rd *bufio.Reader) (string, map[int]string, error) {
	f := map[int]string{}
	for {
		field, err := rd.ReadString('\x01')
		if err != nil {
			return "", nil, err
		}
		tag, val, ok := cutTag(field[:len(field)-1])
		if !ok {
			continue
		}
		f[tag] = val
		if tag == 10 {
			return f[35], f, nil
		}
	}
}

func cutTag(s string) (int, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			t, err := strconv.Atoi(s[:i])
			return t, s[i+1:], err == nil
		}
	}
	return 0, "", false
}
