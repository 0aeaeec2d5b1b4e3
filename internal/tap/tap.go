package tap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
)

// Clock is what the tap needs from internal/clock: the capture time and the
// latest measured status, without a syscall or a lock per event.
type Clock interface {
	// Stamp returns the capture time (ns since the Unix epoch), the latest
	// measured status and the event's Clock block, as of one instant.
	Stamp() (int64, chain.ClockSyncStatus, *chain.Clock)
}

// Config wires the tap.
type Config struct {
	Log    *chain.Log
	Clock  Clock
	Mapper fixmap.Config
	// VenueID goes into every event header and Policy into every event's
	// payload, unless Sessions overrides them for a session.
	VenueID  string
	Policy   chain.PolicyIdentification
	Sessions map[quickfix.SessionID]SessionConfig
	Logger   *slog.Logger
}

// SessionConfig overrides the tap-wide settings for one session.
type SessionConfig struct {
	VenueID string
	Policy  chain.PolicyIdentification
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Log == nil {
		errs = append(errs, errors.New("Log is nil"))
	}
	if c.Clock == nil {
		errs = append(errs, errors.New("Clock is nil"))
	}
	if err := c.Mapper.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Policy.PolicyID == "" || c.Policy.ConformanceTier == "" {
		errs = append(errs, errors.New("Policy needs a PolicyID and a ConformanceTier"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tap: config: %w", err)
	}
	return nil
}

// Tap is the quickfix Application of every session; Stores and Logs are
// its MessageStoreFactory and LogFactory.
// Its lifetime is the caller's: create it, hand it to quickfix acceptors and
// initiators, stop them, then Close the tap (which stops blocked callbacks).
type Tap struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[quickfix.SessionID]*session
	selfEv   selfEvents
}

// New makes a tap.
func New(cfg Config) (*Tap, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Tap{cfg: cfg, log: lg.With("component", "tap"), ctx: ctx, cancel: cancel, sessions: map[quickfix.SessionID]*session{}}, nil
}

// Close releases callbacks blocked on a stopped log. Stop the quickfix
// acceptors and initiators first.
func (t *Tap) Close() error {
	t.cancel()
	return nil
}

func (t *Tap) session(id quickfix.SessionID) (*session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.sessions[id]; ok {
		return s, nil
	}
	s := &session{id: id, name: id.String(), ids: chain.NewIDGen(), roots: map[string]string{},
		venue: t.cfg.VenueID, policy: t.cfg.Policy}
	if sc, ok := t.cfg.Sessions[id]; ok {
		s.venue, s.policy = sc.VenueID, sc.Policy
	}
	s.prefix = sessionPrefix(s.name)
	s.inKey = fieldKey(s.prefix, fieldIn)
	if err := s.load(t.cfg.Log.DB()); err != nil {
		return nil, err
	}
	t.sessions[id] = s
	return s, nil
}

// Stores is the quickfix.MessageStoreFactory of the tap's sessions.
func (t *Tap) Stores() quickfix.MessageStoreFactory { return storeFactory{t} }

type storeFactory struct{ t *Tap }

func (f storeFactory) Create(id quickfix.SessionID) (quickfix.MessageStore, error) {
	t := f.t
	s, err := t.session(id)
	if err != nil {
		return nil, err
	}
	return &store{t: t, s: s}, nil
}

// header builds an event header stamped with the clock; trace, if not nil,
// is its TraceID. The four identifier and time strings share two
// allocations.
func (t *Tap) header(s *session, typ chain.EventType, trace *uuid.UUID, symbol, account string) (chain.Header, *chain.Clock) {
	now, status, clk := t.cfg.Clock.Stamp()
	code, _ := typ.Code()
	var idBuf [2 * uuidLen]byte
	appendUUID(idBuf[:0], s.ids.New(now))
	n := uuidLen
	if trace != nil {
		appendUUID(idBuf[uuidLen:uuidLen], *trace)
		n += uuidLen
	}
	ids := string(idBuf[:n])
	var tsBuf [20 + len(isoLayout)]byte
	ts := strconv.AppendInt(tsBuf[:0], now, 10)
	intLen := len(ts)
	tss := string(appendISONano(ts, now))
	return chain.Header{
		EventID:            ids[:uuidLen],
		TraceID:            ids[uuidLen:],
		TimestampInt:       tss[:intLen],
		TimestampISO:       tss[intLen:],
		EventType:          typ,
		EventTypeCode:      code,
		TimestampPrecision: chain.PrecisionNanosecond,
		ClockSyncStatus:    status,
		HashAlgo:           chain.HashAlgoSHA256,
		VenueID:            s.venue,
		Symbol:             symbol,
		AccountID:          account,
	}, clk
}

// isoLayout is the format of TimestampISO.
const isoLayout = "2006-01-02T15:04:05.000000000Z"

// uuidLen is the length of a UUID's string form.
const uuidLen = 36

// appendUUID appends u as uuid.UUID.String formats it (RFC 9562 §4:
// 8-4-4-4-12 lower-case hex digits).
func appendUUID(dst []byte, u uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	for i, c := range u {
		switch i {
		case 4, 6, 8, 10:
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

// appendISONano appends time.Unix(0, now).UTC().Format(isoLayout) without
// the layout interpreter, a sixth of its cost (years outside 0..9999, which
// int64 nanoseconds cannot reach, still go through AppendFormat).
func appendISONano(dst []byte, now int64) []byte {
	t := time.Unix(0, now).UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, isoLayout)
	}
	h, mi, sec := t.Clock()
	var b [len(isoLayout)]byte
	put := func(at, v, n int) {
		for i := at + n - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, int(mo), 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = 'T'
	put(11, h, 2)
	b[13] = ':'
	put(14, mi, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, t.Nanosecond(), 9)
	b[29] = 'Z'
	return append(dst, b[:]...)
}

// append writes e, blocking (never rejecting) while the log refuses: a
// storage failure must not become a FIX reject, which would advance the
// MsgSeqNum and lose the message. It returns false only when the tap is
// closing.
func (t *Tap) append(s *session, e *chain.Entry) bool {
	for refused := 0; ; {
		err := t.cfg.Log.Append(t.ctx, e)
		if err == nil {
			return true
		}
		var ce *chain.CanonicalError
		var ie *chain.InvalidEventError
		if (errors.As(err, &ce) || errors.As(err, &ie)) && refused < 2 {
			refused++
			// A bug in mapping, not in the input (fixmap turns bad input
			// into ERR events): record that instead, with the raw bytes.
			t.log.Error("event refused by the chain", "session", s.name, "err", err)
			e = t.internalError(s, e.Raw, err)
			continue
		}
		t.log.Error("cannot append event; blocking the session", "session", s.name, "err", err)
		select {
		case <-t.ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// internalError is the ERR_SYSTEM event for an event the chain refused.
func (t *Tap) internalError(s *session, raw []byte, cause error) *chain.Entry {
	h, clk := t.header(s, chain.ERR, nil, "", "")
	p := chain.Payload{Clock: clk, PolicyIdentification: &s.policy}
	if m, _ := t.cfg.Mapper.MapBytes(raw, s.name, fixmap.ParseOptions{Lenient: true}); m != nil && m.Payload.FIX != nil && m.Type == chain.ERR {
		p.FIX = m.Payload.FIX
		p.FIX.Epoch = int64(s.epoch)
	}
	p.ErrorDetails = &chain.ErrorDetails{ErrorCode: "ERR_SYSTEM", Severity: "CRITICAL", AffectedComponent: "tap",
		ErrorMessage: fmt.Sprintf("event refused by the chain: %.200q", cause.Error())}
	return &chain.Entry{Header: h, Payload: p, Raw: raw}
}

// nowTime is the clock's capture time as a time.Time.
func (t *Tap) nowTime() time.Time {
	now, _, _ := t.cfg.Clock.Stamp()
	return time.Unix(0, now).UTC()
}

// reset records a new epoch of s (the counter goes back: ResetOn*, 141=Y):
// MsgSeqNums from the old next-expected on were never delivered in the old
// epoch. The event carries the new counter and epoch in its own batch.
func (t *Tap) reset(s *session, reason string, next int) {
	if s.in == 1 && next == 1 {
		return // nothing was expected in this epoch, so nothing went undelivered
	}
	t.sequenceEvent(s, reason, next, true)
}

// gapFill records the counter moving forward over MsgSeqNums the
// counterparty will not send (SequenceReset, gap fill or reset mode). The
// numbers do not repeat, so the epoch stays: within it, the MsgSeqNums in
// [PrevNextExpected, NextExpected) that no event carries (AheadOfSequence
// ones do) were never delivered.
func (t *Tap) gapFill(s *session, reason string, next int) {
	t.sequenceEvent(s, reason, next, false)
}

// sequenceMessage says which MsgSeqNums a reset or gap fill leaves
// undelivered: from prevNext on in the old epoch (a reset), or
// [prevNext, next) (a gap fill).
func sequenceMessage(reason string, prevNext, next int, prevEpoch, epoch uint64, newEpoch bool) string {
	if newEpoch {
		return fmt.Sprintf("%s: MsgSeqNums from %d on of epoch %d were not delivered (except any logged ahead of sequence); epoch %d expects %d",
			reason, prevNext, prevEpoch, epoch, next)
	}
	return fmt.Sprintf("%s: MsgSeqNums %d..%d of epoch %d not delivered (except any logged ahead of sequence); next expected %d",
		reason, prevNext, next-1, prevEpoch, next)
}

func (t *Tap) sequenceEvent(s *session, reason string, next int, newEpoch bool) {
	// The first MsgSeqNum no event accounts for: a SequenceReset's own
	// event already took its MsgSeqNum (persistedIn is past it).
	prevEpoch, prevNext := s.epoch, max(s.in, s.persistedIn)
	if newEpoch {
		s.epoch++
		clear(s.ahead)
	}
	s.in, s.persistedIn = next, next
	h, clk := t.header(s, chain.ERR, nil, "", "")
	e := &chain.Entry{Header: h, Payload: chain.Payload{
		Clock:                clk,
		PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{
			ErrorCode: "ERR_RECOVER", Severity: "WARNING", AffectedComponent: "fix-session",
			ErrorMessage:  sequenceMessage(reason, prevNext, next, prevEpoch, s.epoch, newEpoch),
			SeqRangeBegin: strconv.Itoa(prevNext),
		},
		TapSession: &chain.TapSession{SessionID: s.name, Reason: reason,
			PrevEpoch: int64(prevEpoch), PrevNextExpected: int64(prevNext), Epoch: int64(s.epoch), NextExpected: int64(next)},
	}}
	inKey, epochKey, epoch := fieldKey(s.prefix, fieldIn), fieldKey(s.prefix, fieldEpoch), s.epoch
	e.Also = func(_ uint64, set func(k, v []byte)) {
		set(inKey, u64(uint64(next)))
		set(epochKey, u64(epoch))
	}
	t.append(s, e)
}
