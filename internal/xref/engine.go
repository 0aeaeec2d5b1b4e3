package xref

import (
	"encoding/hex"
	"strconv"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/decimal"
)

// The engine is the reconciliation itself: pure, deterministic, no I/O.
// It sees the log's events one at a time in seq order and emits outcomes;
// what it emits for an event depends only on the events before it, so a
// replay of the same log gives the same outcomes in the same order. That
// is what makes the Reconciler restartable (reconciler.go).
//
// Time is log capture time: logTime is the largest TimestampInt of the
// events seen (the reconciler's own XREF events excepted, since where
// they land in the log depends on when it ran). An entry opened at t0
// times out when logTime passes t0 + Deadline and is forgotten (duplicate
// detection ends) when it passes t0 + 2×Deadline. The tap writes a clock
// snapshot at least once a minute and sessions heartbeat, so logTime moves
// even when no trade does.

// Sides of a group.
const (
	local        = 0 // INITIATOR or OBSERVER sessions
	counterparty = 1 // COUNTERPARTY sessions
)

// Compared fields: Symbol (Header) and the VCP-TRADE members below.
// Quantities and prices compare as exact decimals.
var compared = [...]struct {
	name    string
	decimal bool
}{
	{"Side", false}, {"Symbol", false}, {"Quantity", true}, {"Price", true},
	{"ExecutedQty", true}, {"ExecutionPrice", true},
}

const nCompared = len(compared)

// event is what the engine keeps of one input event.
// Once both sides are paired only EventID and Hash are kept (what a later
// duplicate names), the rest zero: that is most of the entries held.
type event struct {
	EventID  string
	Hash     chain.Hash // the record's EventHash (hex only in outcomes)
	TimeNs   int64
	Session  string
	TraceID  string
	OrderID  string
	KeyField string
	PossDup  bool
	Fields   [nCompared]string
}

// trimmed reports whether ev holds only what a paired entry keeps.
func (ev *event) trimmed() bool { return *ev == event{EventID: ev.EventID, Hash: ev.Hash} }

// input is one log record as the engine sees it.
type input struct {
	seq    uint64
	timeNs int64
	hasT   bool
	skip   bool // an XREF event (or unparseable time): does not move logTime
	group  int  // -1: not reconciled
	side   int
	kind   byte // keyExec or keyOrder
	keyVal string
	ev     event
}

// Kinds of match key: an ExecutionReport's (ExecKeys) or an order copy's
// (OrderKeys). The same value under both is two keys.
const (
	keyExec  = 'E'
	keyOrder = 'O'
)

// entry is one shared key's state.
type entry struct {
	Kind     byte // keyExec or keyOrder
	KeyValue string
	T0       int64
	Ev       [2]*event
	TimedOut bool
	dead     bool // removed from the table; still in a queue
}

func (e *entry) pending() bool { return !e.dead && !e.TimedOut && (e.Ev[0] == nil || e.Ev[1] == nil) }

// queue is a FIFO of entries in creation order; removed entries are
// skipped lazily.
type queue struct {
	q    []*entry
	head int
}

func (q *queue) push(e *entry) { q.q = append(q.q, e) }

// front returns the first entry for which live is true, dropping the rest.
func (q *queue) front(live func(*entry) bool) *entry {
	for q.head < len(q.q) {
		e := q.q[q.head]
		if live(e) {
			return e
		}
		q.q[q.head] = nil
		q.head++
		if q.head > 1024 && q.head*2 > len(q.q) {
			q.q = append(q.q[:0], q.q[q.head:]...)
			q.head = 0
		}
	}
	return nil
}

func (q *queue) pop() { q.q[q.head] = nil; q.head++ }

type groupState struct {
	g        *Group
	deadline int64                // ns
	keys     [2]map[string]*entry // the live entries by kind (keyExec, keyOrder), then key value
	all      queue                // every live entry: retention
	pend     queue                // entries still waiting for the other side: deadline
}

// table returns the group's live entries of one kind of key.
func (gs *groupState) table(kind byte) map[string]*entry {
	if kind == keyExec {
		return gs.keys[0]
	}
	return gs.keys[1]
}

// engine holds the pending-match state.
type engine struct {
	groups     []groupState
	live       int
	maxPending int
	logTime    int64
}

func newEngine(groups []Group, maxPending int) *engine {
	en := &engine{maxPending: maxPending}
	for i := range groups {
		en.groups = append(en.groups, groupState{g: &groups[i], deadline: groups[i].Deadline.Nanoseconds(),
			keys: [2]map[string]*entry{{}, {}}})
	}
	return en
}

// state returns what the engine holds, to be saved as the state at record
// seq (the entries alias the engine's).
func (en *engine) state(fingerprint string, seq uint64) *savedState {
	st := &savedState{Config: fingerprint, Seq: seq, LogTime: en.logTime, Groups: make([][]*entry, len(en.groups))}
	for gi := range en.groups {
		q := &en.groups[gi].all
		for _, e := range q.q[q.head:] {
			if e != nil && !e.dead {
				st.Groups[gi] = append(st.Groups[gi], e)
			}
		}
	}
	return st
}

// emitFunc receives one outcome; group is the group's index.
type emitFunc func(group int, x *chain.XRef, traceID, symbol string)

// step processes one input.
func (en *engine) step(in *input, emit emitFunc) {
	if in.skip || !in.hasT {
		return
	}
	if in.timeNs > en.logTime {
		en.logTime = in.timeNs
		for gi := range en.groups {
			en.expire(gi, emit)
		}
	}
	if in.group < 0 {
		return
	}
	gs := &en.groups[in.group]
	table := gs.table(in.kind)
	e := table[in.keyVal]
	if e == nil {
		if en.live >= en.maxPending {
			en.evict(in.group, emit)
		}
		ev := in.ev
		e = &entry{Kind: in.kind, KeyValue: in.keyVal, T0: in.timeNs}
		e.Ev[in.side] = &ev
		table[in.keyVal] = e
		en.live++
		gs.all.push(e)
		gs.pend.push(e)
		return
	}
	if prev := e.Ev[in.side]; prev != nil {
		en.duplicate(in.group, e, in, emit)
		return
	}
	ev := in.ev
	e.Ev[in.side] = &ev
	en.pair(in.group, e, emit)
}

// expire times out the group's entries past their deadline and forgets
// those past retention.
func (en *engine) expire(gi int, emit emitFunc) {
	gs := &en.groups[gi]
	for {
		e := gs.pend.front((*entry).pending)
		if e == nil || e.T0+gs.deadline >= en.logTime {
			break
		}
		gs.pend.pop()
		en.timeout(gi, e, "deadline", emit)
	}
	for {
		e := gs.all.front(func(e *entry) bool { return !e.dead })
		if e == nil || e.T0+2*gs.deadline >= en.logTime {
			break
		}
		gs.all.pop()
		if e.pending() { // opened out of time order: its deadline passed too
			en.timeout(gi, e, "deadline", emit)
		}
		en.remove(gi, e)
	}
}

// evict makes room for one entry: the oldest of the group (else of the
// fullest group) goes; if it was still waiting, as a TIMEOUT.
func (en *engine) evict(gi int, emit emitFunc) {
	alive := func(e *entry) bool { return !e.dead }
	if en.groups[gi].all.front(alive) == nil {
		best := -1
		for i := range en.groups {
			if n := len(en.groups[i].all.q) - en.groups[i].all.head; en.groups[i].all.front(alive) != nil && (best < 0 || n > len(en.groups[best].all.q)-en.groups[best].all.head) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		gi = best
	}
	gs := &en.groups[gi]
	e := gs.all.front(alive)
	gs.all.pop()
	if e.pending() {
		en.timeout(gi, e, "evicted", emit)
	}
	en.remove(gi, e)
}

func (en *engine) remove(gi int, e *entry) {
	if !e.dead {
		e.dead = true
		delete(en.groups[gi].table(e.Kind), e.KeyValue)
		en.live--
	}
}

// base fills what every outcome of entry e carries.
func (en *engine) base(gi int, e *entry, status string) *chain.XRef {
	g := en.groups[gi].g
	x := &chain.XRef{GroupID: g.Name, PartyRole: g.LocalRole, ReconciliationStatus: status,
		SharedEventKey: chain.SharedEventKey{ToleranceMs: g.ToleranceMs}}
	for _, side := range [2]int{local, counterparty} {
		ev := e.Ev[side]
		if ev == nil {
			continue
		}
		if x.SharedEventKey.Timestamp == "" {
			// The local event's capture time, else the counterparty's: not
			// whichever came first, which depends on the interleaving.
			x.SharedEventKey.Timestamp = strconv.FormatInt(ev.TimeNs, 10)
		}
		if x.SharedEventKey.OrderID == "" {
			x.SharedEventKey.OrderID = ev.OrderID
		}
		k := ev.KeyField + "=" + e.KeyValue
		if len(x.SharedEventKey.AlternateKeys) == 0 || x.SharedEventKey.AlternateKeys[0] != k {
			x.SharedEventKey.AlternateKeys = append(x.SharedEventKey.AlternateKeys, k)
		}
		if side == local {
			x.LocalEventID, x.LocalEventHash = ev.EventID, hex.EncodeToString(ev.Hash[:])
		} else {
			x.CounterpartyEventID, x.CounterpartyEventHash = ev.EventID, hex.EncodeToString(ev.Hash[:])
			x.CounterpartyID = ev.Session
		}
	}
	if x.CounterpartyID == "" && len(g.Counterparty) > 0 {
		x.CounterpartyID = g.Counterparty[0]
	}
	return x
}

func traceAndSymbol(e *entry) (string, string) {
	for _, ev := range [2]*event{e.Ev[local], e.Ev[counterparty]} {
		if ev != nil {
			return ev.TraceID, ev.Fields[1]
		}
	}
	return "", ""
}

// pair compares both sides of e and emits MATCHED or DISCREPANCY.
func (en *engine) pair(gi int, e *entry, emit emitFunc) {
	g := en.groups[gi].g
	l, c := e.Ev[local], e.Ev[counterparty]
	var details []chain.Discrepancy
	for i, f := range compared {
		a, b := l.Fields[i], c.Fields[i]
		same := a == b
		if !same && f.decimal {
			same = decimal.Equal(a, b)
		}
		if !same {
			details = append(details, chain.Discrepancy{Field: f.name, LocalValue: a, CounterpartyValue: b, Severity: chain.SeverityCritical})
		}
	}
	if d := l.TimeNs - c.TimeNs; d > g.ToleranceMs*1e6 || -d > g.ToleranceMs*1e6 {
		details = append(details, chain.Discrepancy{Field: "CaptureTime", LocalValue: strconv.FormatInt(l.TimeNs, 10),
			CounterpartyValue: strconv.FormatInt(c.TimeNs, 10), Severity: chain.SeverityWarning})
	}
	status := chain.XRefMatched
	if len(details) > 0 {
		status = chain.XRefDiscrepancy
	}
	x := en.base(gi, e, status)
	x.DiscrepancyDetails = details
	tr, sym := traceAndSymbol(e)
	emit(gi, x, tr, sym)
	// Kept for duplicate detection only: a duplicate's outcome names the
	// event it repeats and nothing else of it.
	for side, ev := range e.Ev {
		e.Ev[side] = &event{EventID: ev.EventID, Hash: ev.Hash}
	}
}

// duplicate emits the DISCREPANCY of a second event of the same side and
// key: it names the duplicate in its side's slot, the other side's event
// if any, and the event it repeats.
func (en *engine) duplicate(gi int, e *entry, in *input, emit emitFunc) {
	orig := e.Ev[in.side]
	dup := in.ev
	// Only the duplicate and what it repeats: whether the other side came
	// before or after it depends on the interleaving, the outcome must not.
	view := *e
	view.Ev = [2]*event{}
	view.Ev[in.side] = &dup
	x := en.base(gi, &view, chain.XRefDiscrepancy)
	x.RepeatsEventID, x.RepeatsEventHash = orig.EventID, hex.EncodeToString(orig.Hash[:])
	d := chain.Discrepancy{Field: "PossDupFlag", Severity: chain.SeverityWarning}
	v := "N"
	if dup.PossDup {
		v, d.Severity = "Y", chain.SeverityInfo
	}
	if in.side == local {
		d.LocalValue = v
	} else {
		d.CounterpartyValue = v
	}
	x.DiscrepancyDetails = []chain.Discrepancy{d}
	tr, sym := traceAndSymbol(&view)
	emit(gi, x, tr, sym)
}

// timeout emits the TIMEOUT of an entry that only one side reached.
func (en *engine) timeout(gi int, e *entry, reason string, emit emitFunc) {
	g := en.groups[gi].g
	e.TimedOut = true
	x := en.base(gi, e, chain.XRefTimeout)
	exp := &chain.XRefExpected{DeadlineMs: g.Deadline.Milliseconds(), Reason: reason}
	if e.Ev[local] == nil {
		exp.ExpectedRole, exp.ExpectedSessions = g.LocalRole, g.Local
	} else {
		exp.ExpectedRole, exp.ExpectedSessions = chain.RoleCounterparty, g.Counterparty
	}
	x.Timeout = exp
	tr, sym := traceAndSymbol(e)
	emit(gi, x, tr, sym)
}
