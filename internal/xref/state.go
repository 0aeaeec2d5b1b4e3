package xref

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/fixtap/fixtap/internal/chain"
)

// The saved state (key 'r' "state", reconciler.go) is the engine at record
// Seq: every entry still held, per group in creation order. Format 2,
// binary (integers are Go's varints: unsigned uvarint, signed zigzag;
// str is uvarint length ‖ bytes):
//
//	"fixtap-xref-state/2\n"
//	str     Config   fingerprint of the groups' settings
//	uvarint Seq
//	varint  LogTime
//	uvarint number of groups, then for each: uvarint number of entries,
//	        then for each entry:
//	  byte    flags: 1 TimedOut, 2 local event, 4 counterparty event
//	  byte    kind: 'E' (ExecKeys) or 'O' (OrderKeys)
//	  str     KeyValue
//	  varint  T0
//	  each event flagged, local first:
//	    str     EventID
//	    [32]    EventHash
//	    byte    0: nothing else (a paired event, trimmed), 1: the rest:
//	    varint  TimeNs; str Session, TraceID, OrderID, KeyField;
//	    byte    PossDup (0 or 1); 6 × str Fields
//
// decodeState takes exactly what encodeState writes (it re-encodes and
// compares) and nothing more: each group's key once, every entry with an
// event. Format 1, the JSON of stateV1 that encoding/json spent ~18 % of
// the reconciler's CPU on, is still read (decodeStateV1), so a tap that
// saved one resumes exactly; it is never written.
const stateMagic = "fixtap-xref-state/2\n"

// savedState is the engine's state at record Seq (every record below it
// processed, every outcome of them durable).
type savedState struct {
	Config  string     // fingerprint of the groups
	Seq     uint64     // next record
	LogTime int64      // engine.logTime
	Groups  [][]*entry // live entries per group, in creation order
}

// tableKey names an entry of a saved state: group, kind and value.
type tableKey struct {
	group int
	kind  byte
	val   string
}

// ErrState is wrapped by every error of decodeState.
var ErrState = errors.New("xref: saved state is malformed")

const (
	flagTimedOut = 1
	flagLocal    = 2
	flagCounter  = 4
)

// encodeState appends st's encoding to dst.
func encodeState(dst []byte, st *savedState) []byte {
	dst = append(dst, stateMagic...)
	dst = appendStr(dst, st.Config)
	dst = binary.AppendUvarint(dst, st.Seq)
	dst = binary.AppendVarint(dst, st.LogTime)
	dst = binary.AppendUvarint(dst, uint64(len(st.Groups)))
	for _, es := range st.Groups {
		dst = binary.AppendUvarint(dst, uint64(len(es)))
		for _, e := range es {
			var flags byte
			if e.TimedOut {
				flags |= flagTimedOut
			}
			if e.Ev[local] != nil {
				flags |= flagLocal
			}
			if e.Ev[counterparty] != nil {
				flags |= flagCounter
			}
			dst = append(dst, flags, e.Kind)
			dst = appendStr(dst, e.KeyValue)
			dst = binary.AppendVarint(dst, e.T0)
			for _, ev := range e.Ev {
				if ev != nil {
					dst = appendEvent(dst, ev)
				}
			}
		}
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendEvent(dst []byte, ev *event) []byte {
	dst = appendStr(dst, ev.EventID)
	dst = append(dst, ev.Hash[:]...)
	if ev.trimmed() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, ev.TimeNs)
	for _, s := range [...]string{ev.Session, ev.TraceID, ev.OrderID, ev.KeyField} {
		dst = appendStr(dst, s)
	}
	var pd byte
	if ev.PossDup {
		pd = 1
	}
	dst = append(dst, pd)
	for _, s := range ev.Fields {
		dst = appendStr(dst, s)
	}
	return dst
}

// stateReader reads format 2; the first error sticks.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrState}, args...)...)
	}
}

func (r *stateReader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: bad uvarint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("%s: %d bytes, %d left", what, n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *stateReader) u8(what string) byte {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *stateReader) str(what string) string { return string(r.take(r.uvarint(what), what)) }

func (r *stateReader) event() *event {
	ev := &event{EventID: r.str("EventID")}
	copy(ev.Hash[:], r.take(uint64(len(ev.Hash)), "EventHash"))
	switch full := r.u8("event form"); {
	case r.err != nil:
	case full == 1:
		ev.TimeNs = r.varint("TimeNs")
		for _, s := range [...]*string{&ev.Session, &ev.TraceID, &ev.OrderID, &ev.KeyField} {
			*s = r.str("event field")
		}
		switch r.u8("PossDup") {
		case 0:
		case 1:
			ev.PossDup = true
		default:
			r.fail("PossDup not 0 or 1")
		}
		for i := range ev.Fields {
			ev.Fields[i] = r.str("compared field")
		}
	case full != 0:
		r.fail("event form %d", full)
	}
	return ev
}

// decodeState decodes a saved state of either format for nGroups groups
// (at most). It returns ErrState, wrapped, for anything but what the
// encoder writes.
func decodeState(b []byte, nGroups int) (*savedState, error) {
	if !bytes.HasPrefix(b, []byte(stateMagic)) {
		if len(b) > 0 && b[0] == '{' {
			return decodeStateV1(b, nGroups)
		}
		return nil, fmt.Errorf("%w: not %q", ErrState, stateMagic[:len(stateMagic)-1])
	}
	r := &stateReader{b: b[len(stateMagic):]}
	st := &savedState{Config: r.str("Config"), Seq: r.uvarint("Seq"), LogTime: r.varint("LogTime")}
	ng := r.uvarint("groups")
	if ng > uint64(nGroups) {
		r.fail("%d groups, configured %d", ng, nGroups)
	}
	seen := map[tableKey]bool{}
	for gi := 0; r.err == nil && gi < int(ng); gi++ {
		n := r.uvarint("entries")
		if n > uint64(len(r.b)) { // an entry takes more than a byte
			r.fail("group %d: %d entries in %d bytes", gi, n, len(r.b))
		}
		var es []*entry
		for ; r.err == nil && n > 0; n-- {
			flags, kind := r.u8("flags"), r.u8("kind")
			e := &entry{Kind: kind, KeyValue: r.str("KeyValue"), T0: r.varint("T0"), TimedOut: flags&flagTimedOut != 0}
			if flags&(flagLocal|flagCounter) == 0 || flags&^(flagTimedOut|flagLocal|flagCounter) != 0 {
				r.fail("entry flags %#x", flags)
			}
			if kind != keyExec && kind != keyOrder {
				r.fail("key kind %q", kind)
			}
			k := tableKey{gi, kind, e.KeyValue}
			if seen[k] {
				r.fail("group %d holds key %c%q twice", gi, kind, e.KeyValue)
			}
			seen[k] = true
			if flags&flagLocal != 0 {
				e.Ev[local] = r.event()
			}
			if flags&flagCounter != 0 {
				e.Ev[counterparty] = r.event()
			}
			es = append(es, e)
		}
		st.Groups = append(st.Groups, es)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	if !bytes.Equal(encodeState(make([]byte, 0, len(b)), st), b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrState)
	}
	return st, nil
}

// Format 1: JSON.
const stateFormatV1 = "fixtap-xref-state/1"

type stateV1 struct {
	Format  string       `json:"Format"`
	Config  string       `json:"Config"`
	Seq     uint64       `json:"Seq"`
	LogTime int64        `json:"LogTime"`
	Groups  [][]*entryV1 `json:"Groups"`
}

type entryV1 struct {
	Key      string      `json:"Key"` // group index ‖ 0x00 ‖ kind ‖ KeyValue
	KeyValue string      `json:"KeyValue"`
	T0       int64       `json:"T0"`
	Ev       [2]*eventV1 `json:"Ev"`
	TimedOut bool        `json:"TimedOut,omitempty"`
}

type eventV1 struct {
	EventID   string            `json:"EventID"`
	EventHash string            `json:"EventHash"` // hex
	TimeNs    int64             `json:"TimeNs,omitzero"`
	Session   string            `json:"Session,omitempty"`
	TraceID   string            `json:"TraceID,omitempty"`
	OrderID   string            `json:"OrderID,omitempty"`
	KeyField  string            `json:"KeyField,omitempty"`
	PossDup   bool              `json:"PossDup,omitempty"`
	Fields    [nCompared]string `json:"Fields,omitzero"`
}

// decodeStateV1 reads format 1 into the engine's form.
func decodeStateV1(b []byte, nGroups int) (*savedState, error) {
	var v stateV1
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: format 1: %w", ErrState, err)
	}
	if v.Format != stateFormatV1 || len(v.Groups) > nGroups {
		return nil, fmt.Errorf("%w: format %q with %d groups, want %q with at most %d", ErrState, v.Format, len(v.Groups), stateFormatV1, nGroups)
	}
	st := &savedState{Config: v.Config, Seq: v.Seq, LogTime: v.LogTime, Groups: make([][]*entry, len(v.Groups))}
	seen := map[tableKey]bool{}
	for gi, es := range v.Groups {
		prefix := strconv.Itoa(gi) + "\x00"
		for _, ev1 := range es {
			if ev1 == nil || len(ev1.Key) != len(prefix)+1+len(ev1.KeyValue) || ev1.Key[:len(prefix)] != prefix || ev1.Key[len(prefix)+1:] != ev1.KeyValue {
				return nil, fmt.Errorf("%w: format 1: group %d: entry %+v", ErrState, gi, ev1)
			}
			e := &entry{Kind: ev1.Key[len(prefix)], KeyValue: ev1.KeyValue, T0: ev1.T0, TimedOut: ev1.TimedOut}
			k := tableKey{gi, e.Kind, e.KeyValue}
			if e.Kind != keyExec && e.Kind != keyOrder || seen[k] || ev1.Ev == [2]*eventV1{} {
				return nil, fmt.Errorf("%w: format 1: group %d: entry %q", ErrState, gi, ev1.Key)
			}
			seen[k] = true
			for side, x := range ev1.Ev {
				if x == nil {
					continue
				}
				h, err := chain.ParseHash(x.EventHash)
				if err != nil {
					return nil, fmt.Errorf("%w: format 1: %w", ErrState, err)
				}
				e.Ev[side] = &event{EventID: x.EventID, Hash: h, TimeNs: x.TimeNs, Session: x.Session, TraceID: x.TraceID,
					OrderID: x.OrderID, KeyField: x.KeyField, PossDup: x.PossDup, Fields: x.Fields}
			}
			st.Groups[gi] = append(st.Groups[gi], e)
		}
	}
	return st, nil
}
