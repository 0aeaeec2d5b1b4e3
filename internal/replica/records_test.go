package replica

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testReceipt() *Receipt {
	return &Receipt{
		Store: "aws-eu", Endpoint: "https://s3.eu-west-1.amazonaws.com", Bucket: "firm-audit", Key: "tap-1/tile/entries/000",
		Size: 8704, SHA256: strings.Repeat("ab", 32), ETag: `"9b2cf535f27731c974343645a3985328"`,
		ChecksumSHA256: "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=", RequestID: "17F3A2B1C0D9E8F7",
		Date: "Sun, 22 Nov 2026 03:10:06 GMT", TreeSize: 3502,
	}
}

func testState() *state {
	return &state{Store: "aws-eu", Endpoint: "https://s3.eu-west-1.amazonaws.com", Bucket: "firm-audit", Prefix: "tap-1",
		Uploaded: 4096, Delivered: 3502, Root: strings.Repeat("cd", 32), NoteSHA256: strings.Repeat("ef", 32), NextReceipt: 77}
}

func TestRecordsRoundTrip(t *testing.T) {
	rb, err := encodeReceipt(testReceipt())
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeReceipt(rb)
	if err != nil || *r != *testReceipt() {
		t.Fatalf("DecodeReceipt = %+v, %v", r, err)
	}
	sb, err := encodeState(testState())
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeState(sb)
	if err != nil || *s != *testState() {
		t.Fatalf("decodeState = %+v, %v", s, err)
	}
}

func TestRecordsRejected(t *testing.T) {
	rb, _ := encodeReceipt(testReceipt())
	sb, _ := encodeState(testState())
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version", append([]byte{2}, rb[1:]...)},
		{"trailing", append(bytes.Clone(rb), " {}"...)},
		{"unknown field", bytes.Replace(rb, []byte(`"Store"`), []byte(`"Shop"`), 1)},
		{"bad sha", bytes.Replace(rb, []byte(strings.Repeat("ab", 32)), []byte("xyz"), 1)},
		{"null", []byte("\x01null")},
		{"white space", bytes.Replace(rb, []byte(`":`), []byte(`": `), 1)},
		{"duplicate key", bytes.Replace(rb, []byte(`{"Store":"aws-eu"`), []byte(`{"Store":"x","Store":"aws-eu"`), 1)},
		{"huge", append([]byte{1}, bytes.Repeat([]byte(" "), maxRecord)...)},
	} {
		if _, err := DecodeReceipt(tc.b); !errors.Is(err, ErrMalformed) {
			t.Errorf("receipt %s: %v, want ErrMalformed", tc.name, err)
		}
	}
	bad := func(f func(*state)) []byte {
		s := testState()
		f(s)
		b, _ := encodeState(s)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"trailing", append(bytes.Clone(sb), 'x')},
		{"uploaded < delivered", bad(func(s *state) { s.Uploaded = 1 })},
		{"no store", bad(func(s *state) { s.Store = "" })},
		{"short root", bad(func(s *state) { s.Root = "cd" })},
		{"bad note hash", bad(func(s *state) { s.NoteSHA256 = "zz" })},
		{"root at size 0", bad(func(s *state) { s.Delivered = 0 })},
	} {
		if _, err := decodeState(tc.b); !errors.Is(err, ErrMalformed) {
			t.Errorf("state %s: %v, want ErrMalformed", tc.name, err)
		}
	}
}

// FuzzDecodeReceipt: a stored receipt never panics the decoder, and what it
// accepts re-encodes to a record it accepts again, unchanged.
func FuzzDecodeReceipt(f *testing.F) {
	rb, _ := encodeReceipt(testReceipt())
	f.Add(rb)
	e := testReceipt()
	e.Existing, e.ChecksumSHA256 = true, ""
	rb, _ = encodeReceipt(e)
	f.Add(rb)
	f.Add([]byte("\x01{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceipt(b)
		if err != nil {
			return
		}
		again, err := encodeReceipt(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeReceipt(again)
		if err != nil || *r2 != *r {
			t.Fatalf("re-decoded %+v, %v; want %+v", r2, err, r)
		}
	})
}

// FuzzDecodeState: likewise for a store's state.
func FuzzDecodeState(f *testing.F) {
	sb, _ := encodeState(testState())
	f.Add(sb)
	sb, _ = encodeState(&state{Store: "b", Endpoint: "http://127.0.0.1:9000", Bucket: "x"})
	f.Add(sb)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			return
		}
		if _, err := s.root(); err != nil {
			t.Fatalf("accepted a state with a bad root: %v", err)
		}
		again, err := encodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := decodeState(again)
		if err != nil || *s2 != *s {
			t.Fatalf("re-decoded %+v, %v; want %+v", s2, err, s)
		}
	})
}
