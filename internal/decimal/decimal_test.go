package decimal

import (
	"math/big"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"100", "100"}, {"100.0", "100"}, {"+0100.00", "100"}, {"-0", "0"}, {"0.000", "0"}, {".5", "0.5"},
		{"5.", "5"}, {"-1.2500", "-1.25"}, {"000", "0"}, {"101.2501", "101.2501"},
	} {
		if got, ok := Normalize(c.in); !ok || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e5", "1.2.3", " 1", "1,5", "NaN", "+-1"} {
		if got, ok := Normalize(bad); ok {
			t.Errorf("Normalize(%q) = %q, accepted", bad, got)
		}
	}
	if !Equal("100", "100.0") || Equal("101.25", "101.2501") || !Equal("x", "x") || Equal("1", "x") {
		t.Error("Equal")
	}
}

// FuzzEqual: Equal on two decimals agrees with exact rational arithmetic.
func FuzzEqual(f *testing.F) {
	f.Add("100", "100.0")
	f.Add("-0.10", "-.1")
	f.Add("1", "1.0000000000000000000001")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 64 || len(b) > 64 {
			return // FIX values are short; big.Rat on megabytes is slow
		}
		na, oka := Normalize(a)
		nb, okb := Normalize(b)
		if !oka || !okb {
			return
		}
		ra, ok1 := new(big.Rat).SetString(na)
		rb, ok2 := new(big.Rat).SetString(nb)
		if !ok1 || !ok2 {
			t.Fatalf("normal forms %q %q do not parse", na, nb)
		}
		if (ra.Cmp(rb) == 0) != Equal(a, b) {
			t.Fatalf("Equal(%q, %q) = %v, rationals say %v", a, b, Equal(a, b), ra.Cmp(rb) == 0)
		}
	})
}
