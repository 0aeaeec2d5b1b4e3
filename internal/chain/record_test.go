package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	e := testEntry(3)
	hdr, _ := AppendCanonical(nil, &e.Header)
	pay, _ := AppendCanonical(nil, &e.Payload)
	rec := appendRecord(nil, hdr, pay, e.Raw)
	prev := Hash{1, 2, 3}
	h := EventHash(hdr, pay, prev, false)
	linkRecord(rec, prev, h)
	r, err := DecodeRecord(9, rec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 9 || r.Prev != prev || r.Hash != h || !bytes.Equal(r.Header, hdr) || !bytes.Equal(r.Payload, pay) || !bytes.Equal(r.Raw, e.Raw) {
		t.Fatalf("round trip mismatch: %+v", r)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	ev, err := r.Event()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Header != e.Header || !reflect.DeepEqual(ev.Payload.Trade, e.Payload.Trade) {
		t.Fatalf("decoded event differs")
	}
	line, err := r.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := json.Unmarshal(line, &back); err != nil || back.Security.EventHash != h.String() {
		t.Fatalf("JSON line %s: %v", line, err)
	}
	// Any single flipped byte in Header or Payload breaks the hash check.
	for _, off := range []int{recordFixedLen + 2, len(rec) - len(e.Raw) - 3} {
		bad := bytes.Clone(rec)
		bad[off] ^= 0x20
		r, err := DecodeRecord(9, bad)
		if err != nil {
			continue
		}
		var ble *BrokenLinkError
		if err := r.Check(); !errors.As(err, &ble) || ble.Seq != 9 {
			t.Errorf("flip at %d: Check = %v, want *BrokenLinkError at seq 9", off, err)
		}
	}
}

// FuzzDecodeRecord: the stored-record decoder never panics, reports every
// malformed input as a *CorruptRecordError naming the seq, and what it
// accepts re-encodes to the same bytes (the format is canonical).
func FuzzDecodeRecord(f *testing.F) {
	e := testEntry(1)
	hdr, _ := AppendCanonical(nil, &e.Header)
	pay, _ := AppendCanonical(nil, &e.Payload)
	rec := appendRecord(nil, hdr, pay, e.Raw)
	linkRecord(rec, Hash{}, EventHash(hdr, pay, Hash{}, true))
	f.Add(rec)
	f.Add(appendRecord(nil, []byte("{}"), []byte("{}"), nil))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(42, b)
		if err != nil {
			var ce *CorruptRecordError
			if !errors.As(err, &ce) || ce.Seq != 42 {
				t.Fatalf("error %v is not a *CorruptRecordError for seq 42", err)
			}
			return
		}
		again := appendRecord(nil, r.Header, r.Payload, r.Raw)
		linkRecord(again, r.Prev, r.Hash)
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in %x\nout %x", b, again)
		}
		_ = r.Check()
	})
}
