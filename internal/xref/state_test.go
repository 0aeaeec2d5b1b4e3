package xref

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
)

// scenarioStates runs the scenario's records through an engine and returns
// its state at a few points: mid-way (entries waiting, entries paired and
// trimmed) and after a tick past the deadline (entries timed out, kept for
// retention); one waiting event is made a PossDup.
func scenarioStates(t testing.TB) []*savedState {
	const n = 1200
	firm, venue, _, _ := scenario(t, n)
	past := tick(base+n*int64(time.Millisecond)+31*int64(time.Second), 1)
	recs := records(t, append(merge(firm, venue), past))
	cfg := testConfig()
	en := newEngine(cfg.Groups, cfg.MaxPending)
	rd := newReader(cfg.Groups)
	var in input
	var out []*savedState
	for i, rec := range recs {
		if err := rd.read(rec, &in); err != nil {
			t.Fatal(err)
		}
		en.step(&in, func(int, *chain.XRef, string, string) {})
		if i == len(recs)/3 || i == len(recs)/2 || i == len(recs)-1 {
			out = append(out, cloneState(en.state("fp-"+strconv.Itoa(i), uint64(i+1))))
		}
	}
	for _, e := range out[0].Groups[0] {
		if e.pending() {
			ev := e.Ev[local]
			if ev == nil {
				ev = e.Ev[counterparty]
			}
			ev.PossDup = true
			break
		}
	}
	return out
}

// cloneState copies st deeply (the engine's entries change as it runs).
func cloneState(st *savedState) *savedState {
	c := *st
	c.Groups = make([][]*entry, len(st.Groups))
	for gi, es := range st.Groups {
		for _, e := range es {
			ce := *e
			for side, ev := range e.Ev {
				if ev != nil {
					cev := *ev
					ce.Ev[side] = &cev
				}
			}
			c.Groups[gi] = append(c.Groups[gi], &ce)
		}
	}
	return &c
}

// encodeStateV1 writes format 1 as the previous version did (json.Marshal).
func encodeStateV1(st *savedState) []byte {
	v := stateV1{Format: stateFormatV1, Config: st.Config, Seq: st.Seq, LogTime: st.LogTime, Groups: make([][]*entryV1, len(st.Groups))}
	for gi, es := range st.Groups {
		for _, e := range es {
			e1 := &entryV1{Key: strconv.Itoa(gi) + "\x00" + string(e.Kind) + e.KeyValue, KeyValue: e.KeyValue, T0: e.T0, TimedOut: e.TimedOut}
			for side, ev := range e.Ev {
				if ev != nil {
					e1.Ev[side] = &eventV1{EventID: ev.EventID, EventHash: ev.Hash.String(), TimeNs: ev.TimeNs, Session: ev.Session,
						TraceID: ev.TraceID, OrderID: ev.OrderID, KeyField: ev.KeyField, PossDup: ev.PossDup, Fields: ev.Fields}
				}
			}
			v.Groups[gi] = append(v.Groups[gi], e1)
		}
	}
	b, err := json.Marshal(&v)
	if err != nil {
		panic(err)
	}
	return b
}

// rewriteStateV1 replaces the log's saved state by its format 1 form.
func rewriteStateV1(t *testing.T, l *chain.Log) {
	t.Helper()
	v, closer, err := l.DB().Get(keyState)
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState(v, 1)
	closer.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.DB().Set(keyState, encodeStateV1(st), pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// TestStateFormat: both formats give back exactly the engine's state (every
// kind of entry present: waiting, paired, timed out, of both kinds of key,
// a PossDup event), and format 2 refuses every truncation, a trailing
// byte, and flipped bytes it cannot read back canonically.
func TestStateFormat(t *testing.T) {
	var seen struct{ waiting, trimmed, timedOut, exec, order, possDup bool }
	for _, st := range scenarioStates(t) {
		for _, e := range st.Groups[0] {
			seen.waiting = seen.waiting || e.pending()
			seen.timedOut = seen.timedOut || e.TimedOut
			seen.exec = seen.exec || e.Kind == keyExec
			seen.order = seen.order || e.Kind == keyOrder
			for _, ev := range e.Ev {
				seen.trimmed = seen.trimmed || ev != nil && ev.trimmed()
				seen.possDup = seen.possDup || ev != nil && ev.PossDup
			}
		}
		b := encodeState(nil, st)
		got, err := decodeState(b, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Fatalf("format 2 round trip differs: %d entries, %d back", len(st.Groups[0]), len(got.Groups[0]))
		}
		got, err = decodeState(encodeStateV1(st), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Fatalf("format 1 round trip differs")
		}
		if _, err := decodeState(b, 0); !errors.Is(err, ErrState) {
			t.Errorf("a state of 1 group read for 0 groups: %v", err)
		}
		// The damage checks on the first 50 entries (each decode is
		// linear in the size).
		small := *st
		small.Groups = [][]*entry{st.Groups[0][:min(50, len(st.Groups[0]))]}
		b = encodeState(nil, &small)
		for n := range len(b) {
			if _, err := decodeState(b[:n], 1); !errors.Is(err, ErrState) {
				t.Fatalf("truncated to %d of %d bytes: %v", n, len(b), err)
			}
		}
		if _, err := decodeState(append(b[:len(b):len(b)], 0), 1); !errors.Is(err, ErrState) {
			t.Fatalf("trailing byte: %v", err)
		}
		for i := range b {
			c := bytes.Clone(b)
			c[i] ^= 0x80
			if st2, err := decodeState(c, 1); err == nil && !bytes.Equal(encodeState(nil, st2), c) {
				t.Fatalf("byte %d flipped: accepted a non-canonical state", i)
			}
		}
	}
	if seen != (struct{ waiting, trimmed, timedOut, exec, order, possDup bool }{true, true, true, true, true, true}) {
		t.Fatalf("the states lack a kind of entry: %+v", seen)
	}
}

// FuzzDecodeState: the decoder never panics, and what it accepts is
// exactly what the encoder writes for it, with well-formed entries.
func FuzzDecodeState(f *testing.F) {
	for _, st := range scenarioStates(f) {
		st.Groups[0] = st.Groups[0][:min(len(st.Groups[0]), 40)]
		f.Add(encodeState(nil, st))
		f.Add(encodeStateV1(st))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b, 2)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error not ErrState: %v", err)
			}
			return
		}
		if len(st.Groups) > 2 {
			t.Fatalf("%d groups", len(st.Groups))
		}
		for _, es := range st.Groups {
			for _, e := range es {
				if e.Ev == [2]*event{} || e.Kind != keyExec && e.Kind != keyOrder {
					t.Fatalf("accepted entry %+v", e)
				}
			}
		}
		if b[0] != '{' && !bytes.Equal(encodeState(nil, st), b) {
			t.Fatalf("accepted a non-canonical state")
		}
	})
}
