package fixmap

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

// FuzzMap feeds arbitrary bytes through the scanner (strict and lenient),
// the group reader and the mapper. Properties: nothing panics; every parse
// failure is a *ParseError wrapping a sentinel; every message gives a
// *Mapped that canonicalizes (chain.AppendCanonical succeeds), or a typed
// error.
func FuzzMap(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.fix"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		txt, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fromPipe(txt))
	}
	for _, v := range loadVSO(f) {
		f.Add(fromPipe([]byte(v.Raw)))
	}
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, lenient := range []bool{false, true} {
			opts := ParseOptions{Lenient: lenient}
			m, err := ParseWith(raw, opts)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("untyped parse error %T: %v", err, err)
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBodyLength) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrMissingField) {
					t.Fatalf("parse error wraps no sentinel: %v", err)
				}
			} else {
				if _, err := m.Group(552, 54, sideGroupTags...); err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("group error: %v", err)
				}
				mapped, err := cfg.Map(m, raw, testSession)
				checkMapped(t, mapped, err)
			}
			mapped, err := cfg.MapBytes(raw, testSession, opts)
			checkMapped(t, mapped, err)
		}
	})
}

func checkMapped(t *testing.T, mapped *Mapped, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Map returned an error for FIX content: %v", err)
	}
	if mapped == nil || mapped.Payload.FIX == nil {
		t.Fatal("nil Mapped or FIX block")
	}
	if _, ok := mapped.Type.Code(); !ok {
		t.Fatalf("unknown event type %q", mapped.Type)
	}
	if (mapped.Type == chain.ERR) != (mapped.Payload.ErrorDetails != nil) {
		t.Fatalf("type %s with ErrorDetails %+v", mapped.Type, mapped.Payload.ErrorDetails)
	}
	if _, err := chain.AppendCanonical(nil, goldenView{mapped.Type, mapped.Symbol, mapped.AccountID, mapped.Payload, mapped.Keys}); err != nil {
		t.Fatalf("Mapped does not canonicalize: %v", err)
	}
}
