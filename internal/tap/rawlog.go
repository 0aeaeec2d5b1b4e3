package tap

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
)

// Nothing silently dropped.
//
// quickfix hands every framed inbound message to the session log's
// OnIncoming before it parses it, on the session goroutine. The tap keeps
// those bytes until the message's FromApp/FromAdmin consumes them. Bytes not
// consumed by the time the next message arrives (or the session drops) were
// refused by the engine: they become an ERR event with the raw bytes —
// except a PossDup resend of a MsgSeqNum already logged (not logged twice)
// and a message beyond a sequence gap, which quickfix queues and processes
// later (consumed then).

// Logs is the quickfix.LogFactory of the tap's sessions: it must be the one
// the acceptors and initiators use, or unparseable messages go unrecorded.
func (t *Tap) Logs() quickfix.LogFactory { return logFactory{t} }

type logFactory struct{ t *Tap }

// Create: the tap has no global quickfix log; its own logging goes through slog.
func (f logFactory) Create() (quickfix.Log, error) { return nopLog{}, nil }

func (f logFactory) CreateSessionLog(id quickfix.SessionID) (quickfix.Log, error) {
	t := f.t
	s, err := t.session(id)
	if err != nil {
		return nil, err
	}
	return &sessionLog{t: t, s: s}, nil
}

type nopLog struct{}

func (nopLog) OnIncoming([]byte)       {}
func (nopLog) OnOutgoing([]byte)       {}
func (nopLog) OnEvent(string)          {}
func (nopLog) OnEventf(string, ...any) {}

type sessionLog struct {
	t *Tap
	s *session
}

// maxPendingReuse bounds the buffer a session keeps for pending bytes.
const maxPendingReuse = 16 << 10

func (l *sessionLog) OnIncoming(b []byte) {
	l.t.settle(l.s)
	if len(b) == 0 || len(b) > maxPendingReuse {
		l.s.pending = bytes.Clone(b)
		return
	}
	// settle and every other reader of pending are done with it (events
	// copy Raw in Append): its storage can take the new message.
	l.s.pendingBuf = append(l.s.pendingBuf[:0], b...)
	l.s.pending = l.s.pendingBuf
}

func (l *sessionLog) OnOutgoing([]byte) {}
func (l *sessionLog) OnEvent(string)    {}

func (l *sessionLog) OnEventf(format string, args ...any) {
	if strings.HasPrefix(format, "Msg Parse Error") && l.s.pending != nil {
		l.t.unprocessed(l.s, l.s.pending, fixmap.ErrCodeParse, fmt.Sprintf("the engine could not parse the message: "+format, args...))
		l.s.pending = nil
	}
}

// consume marks raw as processed by FromApp/FromAdmin.
func (s *session) consume(raw []byte, seq int) {
	if s.pending != nil && bytes.Equal(s.pending, raw) {
		s.pending = nil
	}
	delete(s.deferred, seq)
}

// settle classifies the previous message's bytes if nothing consumed them.
func (t *Tap) settle(s *session) {
	raw := s.pending
	if raw == nil {
		return
	}
	s.pending = nil
	m, err := fixmap.ParseWith(raw, fixmap.ParseOptions{Lenient: true})
	if err != nil {
		t.unprocessed(s, raw, fixmap.ErrCodeParse, "the engine dropped a message it could not parse: "+err.Error())
		return
	}
	seqStr, _ := m.Get(34)
	var seq int
	fmt.Sscan(seqStr, &seq)
	possDup, _ := m.Get(43)
	switch {
	case seq > 0 && seq < s.in && possDup == "Y":
		s.stats.resends.Add(1)
		return // a resend of a MsgSeqNum already logged: not logged twice
	case seq > s.in:
		s.gap()
		if s.deferred == nil {
			s.deferred = map[int][]byte{}
		}
		s.deferred[seq] = bytes.Clone(raw) // queued by the engine beyond a gap (raw is pendingBuf)
		return
	}
	t.unprocessed(s, raw, fixmap.ErrCodeReject, fmt.Sprintf("the engine did not accept MsgSeqNum %s (next expected %d)", seqStr, s.in))
}

// settleAll runs when the session drops: the last message, and messages the
// engine queued beyond a gap and never processed. The tap's counter did not
// move past them, so the counterparty must resend them and they are logged
// then; one event records the range discarded.
func (t *Tap) settleAll(s *session) {
	t.settle(s)
	if len(s.deferred) == 0 {
		return
	}
	lo, hi := 0, 0
	for seq := range s.deferred {
		if lo == 0 || seq < lo {
			lo = seq
		}
		hi = max(hi, seq)
	}
	n := len(s.deferred)
	clear(s.deferred)
	h, clk := t.header(s, chain.ERR, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{
		Clock:                clk,
		PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{ErrorCode: fixmap.ErrCodeRecover, Severity: "INFO", AffectedComponent: fixmap.ComponentSession,
			ErrorMessage: fmt.Sprintf("session %s dropped with %d messages (MsgSeqNums %d..%d) queued beyond a gap and not processed; next expected stays %d, so they must be resent",
				s.name, n, lo, hi, s.in),
			SeqRangeBegin: strconv.Itoa(lo), SeqRangeEnd: strconv.Itoa(hi)},
	}})
}

// unprocessed records raw bytes the engine did not pass to the tap.
func (t *Tap) unprocessed(s *session, raw []byte, code, msg string) {
	s.stats.rejects.Add(1)
	m, err := t.cfg.Mapper.MapBytes(raw, s.name, fixmap.ParseOptions{Lenient: true})
	if err != nil {
		return
	}
	h, clk := t.header(s, chain.ERR, nil, "", "")
	p := chain.Payload{Clock: clk, PolicyIdentification: &s.policy, FIX: m.Payload.FIX}
	if p.FIX != nil {
		p.FIX.Epoch = int64(s.epoch)
		p.FIX.Unprocessed = true
	}
	p.ErrorDetails = &chain.ErrorDetails{ErrorCode: code, Severity: "WARNING", AffectedComponent: fixmap.ComponentSession,
		ErrorMessage: strings.ToValidUTF8(msg, "\uFFFD")}
	t.append(s, &chain.Entry{Header: h, Payload: p, Raw: raw})
}
