package tap

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// store is the quickfix.MessageStore of one session, over the chain's Pebble
// DB. The tap never resends application messages (PersistMessages=N), so it
// keeps no messages: quickfix answers a counterparty's ResendRequest with a
// GapFill.
type store struct {
	t *Tap
	s *session
}

func (st *store) NextSenderMsgSeqNum() int { return st.s.out }
func (st *store) NextTargetMsgSeqNum() int { return st.s.in }

// IncrNextSenderMsgSeqNum persists the outgoing counter with fsync before
// quickfix writes the bytes: a crash must never reuse an outgoing MsgSeqNum.
// The tap only sends session-level messages, so this is rare.
func (st *store) IncrNextSenderMsgSeqNum() error { return st.SetNextSenderMsgSeqNum(st.s.out + 1) }

func (st *store) SetNextSenderMsgSeqNum(next int) error {
	if err := st.t.cfg.Log.DB().Set(fieldKey(st.s.prefix, fieldOut), u64(uint64(next)), pebble.Sync); err != nil {
		return fmt.Errorf("tap: persist outgoing MsgSeqNum of %s: %w", st.s.name, err)
	}
	st.s.out = next
	st.s.stats.lastOut.Store(int64(next - 1))
	return nil
}

// IncrNextTargetMsgSeqNum moves the in-memory counter only: the event of the
// message quickfix just accepted carried next = MsgSeqNum+1 into Pebble in
// its own batch. If quickfix advanced without such an event (a path that
// skipped the callback), the new value is queued behind the events so far.
func (st *store) IncrNextTargetMsgSeqNum() error {
	st.s.in++
	if st.s.in != st.s.persistedIn {
		st.t.log.Warn("incoming MsgSeqNum advanced without an event; persisting it", "session", st.s.name, "next", st.s.in)
		st.queueIn()
	}
	return nil
}

// SetNextTargetMsgSeqNum is quickfix applying a SequenceReset (gap fill or
// reset mode, both forward). The MsgSeqNums it skips that no event of this
// epoch accounts for were never delivered: recorded as an event naming them
// (the epoch stays, as no number repeats). A gap fill over MsgSeqNums
// already logged (a Logon that arrived beyond a gap, say) skips nothing and
// only moves the counter.
func (st *store) SetNextTargetMsgSeqNum(next int) error {
	s := st.s
	if next == s.in {
		return nil
	}
	from := max(s.persistedIn, s.in)
	if next > from {
		if st.t.logged(s, from, next) == next-from {
			s.in = next
			if s.persistedIn != next {
				st.queueIn()
			}
			return nil
		}
	} else if next == from {
		s.in = next
		return nil
	}
	if next < from {
		st.t.reset(s, "SequenceReset backwards", next) // numbers will repeat: a new epoch
		return nil
	}
	st.t.gapFill(s, "SequenceReset", next)
	return nil
}

func (st *store) queueIn() {
	next := st.s.in
	st.s.persistedIn = next
	key := fieldKey(st.s.prefix, fieldIn)
	if err := st.t.cfg.Log.Write(st.t.ctx, func(set func(k, v []byte)) { set(key, u64(uint64(next))) }, nil); err != nil {
		st.t.log.Error("cannot queue the incoming MsgSeqNum", "session", st.s.name, "err", err)
	}
}

func (st *store) CreationTime() time.Time { return st.s.ctime }

func (st *store) SetCreationTime(t time.Time) {
	st.s.ctime = t
	if err := st.t.cfg.Log.DB().Set(fieldKey(st.s.prefix, fieldCTime), u64(uint64(t.UnixNano())), pebble.Sync); err != nil {
		st.t.log.Error("cannot persist the session creation time", "session", st.s.name, "err", err)
	}
}

// SaveMessage keeps nothing: see the type's comment.
func (st *store) SaveMessage(int, []byte) error { return nil }

func (st *store) SaveMessageAndIncrNextSenderMsgSeqNum(int, []byte) error {
	return st.IncrNextSenderMsgSeqNum()
}

func (st *store) GetMessages(int, int) ([][]byte, error) { return nil, nil }

func (st *store) IterateMessages(int, int, func([]byte) error) error { return nil }

// Refresh re-reads the persisted state (RefreshOnLogon). Pebble is the only
// writer's own store, so this can only move the in-memory copy back to what
// is queued or durable.
func (st *store) Refresh() error { return st.s.load(st.t.cfg.Log.DB()) }

// Reset is quickfix resetting the session (ResetOn*, 141=Y, schedule):
// both counters to 1, a new creation time, and a new epoch recorded as an
// event naming what was never delivered.
func (st *store) Reset() error {
	if err := st.SetNextSenderMsgSeqNum(1); err != nil {
		return err
	}
	if st.s.resetDone {
		st.s.resetDone = false
		st.s.in = 1 // recorded with the Logon; its event persisted what follows
	} else {
		st.t.reset(st.s, "Reset", 1)
	}
	st.SetCreationTime(st.t.nowTime())
	return nil
}

func (st *store) Close() error { return nil }

// logged counts the MsgSeqNums in [from, to) of the current epoch that an
// event of this epoch carries, from the (session, epoch, MsgSeqNum) index —
// queued or durable — so it holds across a restart. Only gap fills and
// PossDup resends ask, so the per-message path never reads Pebble.
func (t *Tap) logged(s *session, from, to int) int {
	if to <= from {
		return 0
	}
	it, err := t.cfg.Log.DB().NewIter(&pebble.IterOptions{
		LowerBound: indexKey(s.prefix, s.epoch, from),
		UpperBound: indexKey(s.prefix, s.epoch, to),
	})
	if err != nil {
		t.log.Error("cannot read the MsgSeqNum index", "session", s.name, "err", err)
		return 0
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}
