package tap

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
)

var _ quickfix.Application = (*Tap)(nil)

// OnCreate loads the session's state.
func (t *Tap) OnCreate(id quickfix.SessionID) {
	if _, err := t.session(id); err != nil {
		t.log.Error("cannot load session state", "session", id.String(), "err", err)
	}
}

// OnLogon marks the session up (the Logon itself is recorded in FromAdmin).
func (t *Tap) OnLogon(id quickfix.SessionID) {
	if s, err := t.session(id); err == nil {
		s.loggedOn, s.sawLogout = true, false
		s.stats.loggedOn.Store(true)
	}
}

// OnLogout records a transport drop that no Logout announced (ERR_CONN).
func (t *Tap) OnLogout(id quickfix.SessionID) {
	s, err := t.session(id)
	if err != nil {
		return
	}
	t.settleAll(s)
	if !s.loggedOn {
		return
	}
	s.loggedOn = false
	s.stats.loggedOn.Store(false)
	if s.sawLogout {
		return
	}
	h, clk := t.header(s, chain.ERR, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{
		Clock:                clk,
		PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{ErrorCode: fixmap.ErrCodeConn, Severity: "WARNING", AffectedComponent: fixmap.ComponentSession,
			ErrorMessage: fmt.Sprintf("session %s: transport lost without a Logout; next expected MsgSeqNum %d (epoch %d)", s.name, s.in, s.epoch)},
	}})
}

// ToAdmin records every Reject the engine sends (a message it refused is
// evidence too) as ERR_REJECT with the Reject's bytes.
func (t *Tap) ToAdmin(msg *quickfix.Message, id quickfix.SessionID) {
	if mt, err := msg.MsgType(); err != nil || mt != "3" {
		return
	}
	s, err := t.session(id)
	if err != nil {
		return
	}
	text, _ := msg.Body.GetString(58)
	ref, _ := msg.Body.GetString(45)
	why := fmt.Sprintf("the engine rejected inbound MsgSeqNum %s of %s: %.200q; its Reject: %.300q", ref, s.name, text, msg.String())
	if raw := s.pending; raw != nil {
		// The rejected message's own bytes are the evidence.
		s.pending = nil
		t.unprocessed(s, raw, fixmap.ErrCodeReject, why)
		return
	}
	s.stats.rejects.Add(1)
	h, clk := t.header(s, chain.ERR, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Raw: []byte(msg.String()), Payload: chain.Payload{
		Clock:                clk,
		PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{ErrorCode: fixmap.ErrCodeReject, Severity: "WARNING", AffectedComponent: fixmap.ComponentSession,
			ErrorMessage: why},
	}})
}

// ToApp refuses every application message: the tap is passive.
func (t *Tap) ToApp(*quickfix.Message, quickfix.SessionID) error { return quickfix.ErrDoNotSend }

// FromAdmin records an inbound session-level message.
func (t *Tap) FromAdmin(msg *quickfix.Message, id quickfix.SessionID) quickfix.MessageRejectError {
	t.record(msg, id)
	return nil
}

// FromApp records an inbound application message. It never rejects: an
// unknown or unmappable message is still one event.
func (t *Tap) FromApp(msg *quickfix.Message, id quickfix.SessionID) quickfix.MessageRejectError {
	t.record(msg, id)
	return nil
}

// record maps msg and appends its event; when the message is the one the
// session expects, the event's batch also advances the persisted counter.
func (t *Tap) record(msg *quickfix.Message, id quickfix.SessionID) {
	s, err := t.session(id)
	if err != nil {
		t.log.Error("no session state", "session", id.String(), "err", err)
		return
	}
	if msg == s.lastLogon {
		return // quickfix's second FromAdmin for the same Logon
	}
	raw := msg.Bytes()
	seq, _ := msg.Header.GetInt(34)
	s.consume(raw, seq)
	// Has first: quickfix builds a reject error (fmt and all) for an
	// absent field, and most messages have no PossDupFlag.
	possDup := false
	if msg.Header.Has(43) {
		possDup, _ = msg.Header.GetBool(43)
	}
	if possDup {
		s.stats.resends.Add(1)
	}
	if possDup && (s.ahead[seq] || t.logged(s, seq, seq+1) > 0) {
		// A resend of a MsgSeqNum already logged out of order (before a
		// restart, perhaps): not logged twice, but the counter moves past
		// it as the engine's does.
		delete(s.ahead, seq)
		if seq == s.in {
			s.persistedIn = seq + 1
			key, next := fieldKey(s.prefix, fieldIn), u64(uint64(seq+1))
			if err := t.cfg.Log.Write(t.ctx, func(set func(k, v []byte)) { set(key, next) }, nil); err != nil {
				t.log.Error("cannot queue the incoming MsgSeqNum", "session", s.name, "err", err)
			}
		}
		return
	}
	// Strict: quickfixgo does not verify BodyLength or CheckSum, so a
	// garbled message it accepted is recorded as ERR_PARSE (with its bytes,
	// and still consuming its MsgSeqNum, as the engine did).
	m, err := t.cfg.Mapper.MapBytes(raw, s.name, fixmap.ParseOptions{})
	if err != nil {
		t.log.Error("cannot map message", "session", s.name, "err", err)
		return
	}
	logon, logout := isLogon(msg), isLogout(msg)
	if m.Session != nil && m.Session.ResetSeqNumFlag && logon {
		// 141=Y: the new epoch starts with this Logon; quickfix's
		// store.Reset() that follows finds it done.
		t.reset(s, "Logon ResetSeqNumFlag=Y", 1)
		s.resetDone = true
	}
	if logon {
		s.lastLogon = msg
	}
	if logout {
		s.sawLogout = true
	}
	symbol := m.Symbol
	var trace *uuid.UUID
	if u, ok := s.traceUUID(m.Keys); ok {
		trace = &u
	}
	h, clk := t.header(s, m.Type, trace, symbol, m.AccountID)
	m.Payload.Clock = clk
	m.Payload.PolicyIdentification = &s.policy
	if m.Payload.FIX != nil {
		m.Payload.FIX.Epoch = int64(s.epoch)
	}
	e := &chain.Entry{Header: h, Payload: m.Payload, Raw: raw} // Append copies it into the record before returning
	if seq > s.in {
		s.gap()
		if s.ahead == nil {
			s.ahead = map[int]bool{}
		}
		s.ahead[seq] = true
		if m.Payload.FIX != nil {
			m.Payload.FIX.AheadOfSequence = true
		}
		// Indexed, so that after a restart its PossDup resend is still
		// known as logged.
		idx := indexKey(s.prefix, s.epoch, seq)
		e.Also = func(logSeq uint64, set func(k, v []byte)) { set(idx, u64(logSeq)) }
	}
	if seq == s.in {
		next, inKey := seq+1, s.inKey
		idx := indexKey(s.prefix, s.epoch, seq)
		s.persistedIn = next
		e.Also = func(logSeq uint64, set func(k, v []byte)) {
			set(inKey, u64(uint64(next)))
			set(idx, u64(logSeq))
		}
	}
	if t.append(s, e) {
		s.stats.messages.Add(1)
		s.stats.lastIn.Store(int64(seq))
	}
}

func isLogon(msg *quickfix.Message) bool  { return isMsgType(msg, "A") }
func isLogout(msg *quickfix.Message) bool { return isMsgType(msg, "5") }

// isMsgType is msg.IsMsgTypeOf(mt) without the string quickfix allocates
// for the comparison.
func isMsgType(msg *quickfix.Message, mt string) bool {
	v, err := msg.Header.GetBytes(35)
	return err == nil && string(v) == mt
}
