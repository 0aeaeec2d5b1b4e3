package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"

	gowebpki "github.com/gowebpki/jcs"

	"github.com/fixtap/fixtap/internal/jcs"
)

// randomFill sets every exported field of the struct v points to, recursively,
// from rng, drawing strings from pool. Because it walks the types by
// reflection, a field added to the event model is covered without touching
// this test.
func randomFill(rng *rand.Rand, v reflect.Value, pool []string) {
	switch v.Kind() {
	case reflect.Pointer:
		if rng.IntN(5) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		randomFill(rng, v.Elem(), pool)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				randomFill(rng, v.Field(i), pool)
			}
		}
	case reflect.String:
		if rng.IntN(4) == 0 {
			v.SetString("")
			return
		}
		v.SetString(pool[rng.IntN(len(pool))])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch rng.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(rng.Int64N(1<<53) - 1<<52)
		default:
			v.SetInt(rng.Int64N(100000))
		}
	case reflect.Slice:
		n := rng.IntN(4)
		if n == 0 {
			v.Set(reflect.Zero(v.Type())) // nil: omitted by omitempty
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := 0; i < n; i++ {
			randomFill(rng, v.Index(i), pool)
		}
	case reflect.Interface:
		// An open block (ClockEvidence): fill it with a small typed struct
		// of strings and ints, as internal/clock does.
		if rng.IntN(3) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		type evidence struct {
			Status  string `json:"Status"`
			Samples int    `json:"Samples"`
			Source  string `json:"Source,omitempty"`
		}
		e := reflect.New(reflect.TypeFor[evidence]())
		randomFill(rng, e.Elem(), pool)
		v.Set(e)
	default:
		panic("randomFill: unhandled kind " + v.Kind().String())
	}
}

// A pool of strings that exercise RFC 8785 string rules: controls, quotes,
// backslashes, HTML characters encoding/json escapes, non-BMP runes
// (UTF-16 surrogate pairs for key ordering), U+2028/2029, and FIX-like text.
var stringPool = []string{
	"", "a", "AAPL", "123.456789", "1000.00", "0", "-0.0000001", "1e400",
	"\x00", "\x01\x1f", "\t\n\r\b\f", "\"quoted\"", `back\slash`, "<script>&amp;</script>",
	"é", "€", "日本語", "😀", "\U0001F600x", "\u2028\u2029", "\u007f", "\ufeff",
	"8=FIX.4.4\x019=5\x0135=8\x0110=000\x01", "acc_0123456789abcdef", "01934e3a-7b2c-7f93-8f2a-1234567890ab",
}

func canonicalViaLibrary(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	out, err := gowebpki.Transform(b)
	if err != nil {
		t.Fatalf("gowebpki/jcs.Transform(%s): %v", b, err)
	}
	return out
}

func checkEquivalent(t testing.TB, e *Event) {
	t.Helper()
	for _, v := range []any{&e.Header, &e.Payload, e} {
		got, err := AppendCanonical(nil, v)
		if err != nil {
			t.Fatalf("AppendCanonical(%T): %v", v, err)
		}
		want := canonicalViaLibrary(t, v)
		if !bytes.Equal(got, want) {
			t.Fatalf("%T: canonical bytes differ from gowebpki/jcs\n got %s\nwant %s", v, got, want)
		}
		// Decoding the canonical bytes and re-encoding is a fixed point.
		again, err := jcs.Transform(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("%T: not a JCS fixed point (%v)\n got %s\nagain %s", v, err, got, again)
		}
	}
}

// TestCanonicalMatchesLibrary checks the typed encoder against the
// independent github.com/gowebpki/jcs on randomized events.
func TestCanonicalMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 5000
	if testing.Short() {
		n = 500
	}
	for range n {
		var e Event
		randomFill(rng, reflect.ValueOf(&e).Elem(), stringPool)
		checkEquivalent(t, &e)
	}
	checkEquivalent(t, &Event{Header: testEntry(7).Header, Payload: testEntry(7).Payload})
}

// FuzzCanonicalEvent: for any strings the fuzzer invents placed anywhere in
// an event, the typed encoder either equals gowebpki/jcs(json.Marshal(…))
// or — exactly when some string is not valid UTF-8 (which includes
// UTF-8-encoded lone surrogates) — refuses with a *CanonicalError wrapping
// jcs.ErrInvalidUTF8.
func FuzzCanonicalEvent(f *testing.F) {
	f.Add([]byte("AAPL"), []byte("é\x00\""), uint64(1))
	f.Add([]byte("\xed\xa0\x80"), []byte("x"), uint64(2)) // lone surrogate U+D800 in UTF-8
	f.Add([]byte("\xff"), []byte(""), uint64(3))
	f.Add([]byte("😀"), []byte("\u2028"), uint64(4))
	f.Fuzz(func(t *testing.T, a, b []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed>>1|1))
		pool := append([]string{string(a), string(b), string(a) + string(b)}, stringPool[:8]...)
		var e Event
		randomFill(rng, reflect.ValueOf(&e).Elem(), pool)
		got, err := AppendCanonical(nil, &e)
		valid := allValidUTF8(reflect.ValueOf(&e).Elem())
		if !valid {
			var ce *CanonicalError
			if err == nil || !errors.As(err, &ce) || !errors.Is(err, jcs.ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8 accepted or wrong error: %v (%q)", err, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid event refused: %v", err)
		}
		if want := canonicalViaLibrary(t, &e); !bytes.Equal(got, want) {
			t.Fatalf("differ from gowebpki/jcs\n got %s\nwant %s", got, want)
		}
	})
}

func allValidUTF8(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || allValidUTF8(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && !allValidUTF8(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if !allValidUTF8(v.Index(i)) {
				return false
			}
		}
	case reflect.String:
		return utf8.ValidString(v.String())
	}
	return true
}

// TestCanonicalRefusals: what cannot be canonicalized is refused with a typed
// error naming the field.
func TestCanonicalRefusals(t *testing.T) {
	type withFloat struct {
		Price float64 `json:"Price"`
	}
	type withBigInt struct {
		N int64 `json:"N"`
	}
	cases := []struct {
		name string
		v    any
		is   error
		path string
	}{
		{"invalid UTF-8", &Header{EventID: "x\xffy"}, jcs.ErrInvalidUTF8, "EventID"},
		{"lone surrogate", &Payload{Trade: &Trade{ClOrdID: "\xed\xa0\x80"}}, jcs.ErrInvalidUTF8, "VCP-TRADE.ClOrdID"},
		{"float NaN", &withFloat{Price: math.NaN()}, ErrFloat, "Price"},
		{"float", &withFloat{Price: 1.5}, ErrFloat, "Price"},
		{"int beyond 2^53", &withBigInt{N: 1 << 60}, jcs.ErrUnsafeInteger, "N"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := AppendCanonical(dst, c.v)
			var ce *CanonicalError
			if !errors.As(err, &ce) || !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want *CanonicalError wrapping %v", err, c.is)
			}
			if !bytes.Contains([]byte(ce.Path), []byte(c.path)) {
				t.Errorf("path %q does not name %s", ce.Path, c.path)
			}
			if string(out) != "prefix" {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
}

// TestCanonicalBytes: a []byte is a base64 string, as encoding/json writes
// it (AnchorRecord.Checkpoint carries the signed note this way).
func TestCanonicalBytes(t *testing.T) {
	v := struct {
		B []byte
		N []byte
		A [2]byte
	}{B: []byte("note\n— sig\x00"), A: [2]byte{1, 2}}
	got, err := AppendCanonical(nil, &v)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(&v)
	want, err := jcs.Transform(js)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("got %s, want %s", got, want)
	}
}
