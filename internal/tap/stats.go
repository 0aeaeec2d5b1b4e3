package tap

import (
	"slices"
	"sync/atomic"

	"github.com/quickfixgo/quickfix"
)

// sessionStats are a session's counters for monitoring. The session's own
// goroutine updates them where the event is already built — one atomic
// operation each, no lock — and Stats reads them at scrape time.
type sessionStats struct {
	loggedOn atomic.Bool
	lastIn   atomic.Int64  // MsgSeqNum of the last inbound message recorded
	lastOut  atomic.Int64  // MsgSeqNum of the last outbound message (next outgoing − 1)
	messages atomic.Uint64 // inbound messages recorded as events
	resends  atomic.Uint64 // inbound PossDup=Y messages (the counterparty resending)
	gaps     atomic.Uint64 // gaps detected: an inbound MsgSeqNum above the expected one
	rejects  atomic.Uint64 // inbound messages the engine rejected or could not parse
}

// SessionStats is a snapshot of one session's counters.
type SessionStats struct {
	ID       quickfix.SessionID
	Name     string // ID.String(), the SessionID of its events
	LoggedOn bool
	// LastMsgSeqNumIn is the MsgSeqNum of the last inbound message
	// recorded; LastMsgSeqNumOut that of the last message the tap sent
	// (its session-level messages). Both restart with a sequence reset.
	LastMsgSeqNumIn, LastMsgSeqNumOut int64
	// Messages counts inbound messages recorded as events since start;
	// Resends those marked PossDup=Y (whether logged or already known);
	// Gaps the sequence gaps detected (the engine asks for a resend);
	// Rejects inbound messages the engine rejected or could not parse
	// (recorded as ERR_REJECT or ERR_PARSE events).
	Messages, Resends, Gaps, Rejects uint64
}

// Stats returns a snapshot of every session's counters, ordered by name.
// Any goroutine; it takes the tap's session-map lock, never a session's.
func (t *Tap) Stats() []SessionStats {
	t.mu.Lock()
	out := make([]SessionStats, 0, len(t.sessions))
	for id, s := range t.sessions {
		st := &s.stats
		out = append(out, SessionStats{ID: id, Name: s.name, LoggedOn: st.loggedOn.Load(),
			LastMsgSeqNumIn: st.lastIn.Load(), LastMsgSeqNumOut: st.lastOut.Load(),
			Messages: st.messages.Load(), Resends: st.resends.Load(), Gaps: st.gaps.Load(), Rejects: st.rejects.Load()})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b SessionStats) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// gap counts a sequence gap once: a gap is identified by the epoch and the
// MsgSeqNum expected when it opened, however many messages arrive beyond it.
func (s *session) gap() {
	if s.gapOpen && s.gapEpoch == s.epoch && s.gapIn == s.in {
		return
	}
	s.gapOpen, s.gapEpoch, s.gapIn = true, s.epoch, s.in
	s.stats.gaps.Add(1)
}
