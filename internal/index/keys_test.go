package index

import (
	"bytes"
	"errors"
	"testing"
)

// seedKeys are keys as the Indexer writes them for real events.
func seedKeys() []Key {
	return []Key{
		{Sub: byte(ClOrdID), Value: "C1", Session: sessA, Seq: 1},
		{Sub: byte(OrderID), Value: "O1", Session: sessA, Seq: 1 << 40},
		{Sub: byte(ExecID), Value: "X1", Session: "", Seq: 0},
		{Sub: byte(TraceID), Value: "01934e3a-6a1b-8c82-9d1b-0987654321dc", Session: sessB, Seq: 7},
		{Sub: byte(ClOrdID), Value: string(bytes.Repeat([]byte("c"), 300)), Session: sessA, Seq: 9}, // two-byte length
		{Sub: subSession, Session: sessA, Seq: 3},
		{Sub: subTime, TimeNs: t0, Seq: 4},
		{Sub: subTime, TimeNs: -1, Seq: 5},
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, k := range seedKeys() {
		b := k.Append(nil)
		got, err := ParseKey(b)
		if err != nil {
			t.Fatalf("ParseKey(%x): %v", b, err)
		}
		if got != k {
			t.Errorf("ParseKey(Append(%+v)) = %+v", k, got)
		}
	}
}

// TestKeyOrder: time keys sort by time (negative first), then seq; a
// value's keys are one prefix, and no other value's key shares it.
func TestKeyOrder(t *testing.T) {
	ts := []int64{-1 << 62, -1, 0, 1, t0}
	for i := 1; i < len(ts); i++ {
		a, b := appendTimeKey(nil, ts[i-1], 9), appendTimeKey(nil, ts[i], 0)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("time key of %d sorts after %d", ts[i-1], ts[i])
		}
	}
	p := appendValuePrefix(nil, ClOrdID, "C1")
	for _, v := range []string{"C", "C10", "C1\x00", "C2"} {
		if k := appendValueKey(nil, ClOrdID, v, sessA, 0); bytes.HasPrefix(k, p) {
			t.Errorf("key of %q has the prefix of C1", v)
		}
	}
	if !bytes.HasPrefix(appendValueKey(nil, ClOrdID, "C1", sessA, 0), appendString(bytes.Clone(p), sessA)) {
		t.Error("key of C1 in session A lacks its session prefix")
	}
}

func TestParseKeyRefuses(t *testing.T) {
	good := Key{Sub: byte(ClOrdID), Value: "C1", Session: sessA, Seq: 1}.Append(nil)
	for name, b := range map[string][]byte{
		"empty":        nil,
		"other prefix": append([]byte{'e'}, good[1:]...),
		"unknown sub":  {'x', 'z', 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"watermark":    {'x', 'w', 0, 0, 0, 0, 0, 0, 0, 0},
		"short seq":    good[:len(good)-1],
		"trailing":     append(bytes.Clone(good), 0),
		"empty value":  Key{Sub: byte(ExecID), Value: "", Session: sessA, Seq: 1}.Append(nil),
		"long length":  {'x', 'c', 0x80, 0x00, 'C', 0, 0, 0, 0, 0, 0, 0, 0, 0}, // non-minimal uvarint
		"overrun":      {'x', 's', 9, 'a', 0, 0, 0, 0, 0, 0, 0, 0},
		"time short":   {'x', 't', 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := ParseKey(b); !errors.Is(err, ErrCorruptIndex) {
			t.Errorf("%s: ParseKey(%x) = %v, want ErrCorruptIndex", name, b, err)
		}
	}
}

// FuzzParseKey: ParseKey never panics, and what it accepts is canonical —
// it re-encodes to the same bytes.
func FuzzParseKey(f *testing.F) {
	for _, k := range seedKeys() {
		f.Add(k.Append(nil))
	}
	f.Add([]byte{'x', 'c', 0x80, 0x00, 'C', 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			return
		}
		if re := k.Append(nil); !bytes.Equal(re, b) {
			t.Fatalf("ParseKey(%x) = %+v, which encodes as %x", b, k, re)
		}
	})
}
