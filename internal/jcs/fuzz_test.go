package jcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	gowebpki "github.com/gowebpki/jcs"
)

// FuzzTransform checks that Transform never panics, that whatever it
// accepts canonicalizes to a fixed point, and that it agrees byte for byte
// with the independent github.com/gowebpki/jcs whenever both accept.
//
// Bytes are compared only when both implementations accept the input,
// because they legitimately differ in what they accept:
//
//   - Nesting: gowebpki/jcs allows 10000 levels; Transform stops at 1000
//     (ErrTooDeep), so deeper documents are accepted by gowebpki alone.
//     This is deliberate: fixtap events are shallow, and the limit bounds
//     the recursion an untrusted document can cause.
//   - Error policy in general: RFC 8785 requires rejecting duplicate keys
//     (§3.1), lone surrogates (§3.2.2.2) and non-Unicode strings (§3.1),
//     but canonicalizers have not always done so, and gowebpki/jcs's own
//     source describes its current rejection of unpaired surrogates
//     (once decoded to U+FFFD) and of invalid UTF-8 (once copied through)
//     as fixes. Canonicalizers built on a general-purpose decoder
//     (encoding/json, Python's json) keep the last of duplicate keys. The
//     test must not depend on the reference being as strict as Transform.
//
// Against v1.0.2 (the version in go.mod) a temporary fuzz target that
// failed on any difference in acceptance other than ErrTooDeep ran for
// about 3 minutes (2.8 million inputs) and found none: v1.0.2 rejects
// duplicate keys, lone surrogates, invalid UTF-8 and overflowing numbers
// just as Transform does.
//
// TestDepthDifferenceFromGowebpki pins the depth difference down.
//
// Acceptance is still cross-checked one way: anything Transform accepts
// must be JSON to encoding/json, and its output must be valid UTF-8 JSON.
func FuzzTransform(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "cyberphone", "input", "*.json"))
	if err != nil || len(inputs) == 0 {
		f.Fatalf("no cyberphone seeds: %v", err)
	}
	for _, name := range inputs {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"a":1,"\u0061":2}`, `"\ud800"`, `"\ud83d\ude02"`, `[1e400]`, `[-0,1e21,1e-7,5e-324]`,
		"\"\xff\"", `{"b":[],"a":{}}`, ` [ true , false , null ] `, `"\u0000\/"`,
	} {
		f.Add([]byte(s))
	}

	var tr Transformer // reused across inputs, as the verifier reuses it
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Transform(in)
		// A Transformer that has canonicalized another document gives the
		// same answer as Transform.
		// Transform's output is canonical, and IsCanonical agrees with
		// Transform exactly.
		if err == nil && !IsCanonical(out) {
			t.Fatalf("IsCanonical(Transform(%q) = %q) = false", in, out)
		}
		if want := err == nil && bytes.Equal(out, in); IsCanonical(in) != want {
			t.Fatalf("IsCanonical(%q) = %v, Transform says %v (%q, %v)", in, !want, want, out, err)
		}
		tr.Transform([]byte(`{"z":[1,"\u00e9",{"b":null,"a":true}],"a":-0.5}`))
		if out2, err2 := tr.Transform(in); (err == nil) != (err2 == nil) || !bytes.Equal(out, out2) {
			t.Fatalf("Transformer(%q) = %q, %v; Transform %q, %v", in, out2, err2, out, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(in) {
				t.Fatalf("Transform(%q): error %v (%T) is not a *Error with an offset into the input", in, err, err)
			}
			if out != nil {
				t.Fatalf("Transform(%q) returned output with error %v", in, err)
			}
			return
		}
		if !utf8.Valid(out) {
			t.Fatalf("Transform(%q) = %q: not UTF-8", in, out)
		}
		if !json.Valid(in) || !json.Valid(out) {
			t.Fatalf("Transform(%q) = %q: input or output is not JSON to encoding/json", in, out)
		}
		again, err := Transform(out)
		if err != nil {
			t.Fatalf("Transform(%q) = %q, which Transform rejects: %v", in, out, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: Transform(%q) = %q, Transform of that = %q", in, out, again)
		}
		ref, refErr := gowebpki.Transform(in)
		if refErr != nil {
			return
		}
		if !bytes.Equal(out, ref) {
			t.Fatalf("Transform(%q) = %q, gowebpki/jcs gives %q", in, out, ref)
		}
	})
}

// TestDepthDifferenceFromGowebpki pins down the known difference in
// acceptance described at FuzzTransform.
func TestDepthDifferenceFromGowebpki(t *testing.T) {
	in := bytes.Repeat([]byte("["), 1001)
	in = append(in, bytes.Repeat([]byte("]"), 1001)...)
	if _, err := Transform(in); !errors.Is(err, ErrTooDeep) {
		t.Errorf("Transform of 1001 nested arrays: err = %v, want ErrTooDeep", err)
	}
	out, err := gowebpki.Transform(in)
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("gowebpki/jcs.Transform of 1001 nested arrays = %.8q..., %v; expected it to accept", out, err)
	}
}
