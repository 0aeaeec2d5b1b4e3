// Package decimal compares FIX Qty and Price values as exact decimals,
// reading their characters only: no float is ever involved, so "100",
// "100.0" and "+0100.00" are equal and "0.1" never becomes 0.1000000000000000055.
// It is shared by the reconciler (internal/xref) and the offline verifier
// (internal/verify), which must agree on what "equal" means.
package decimal

// Normalize returns the canonical form of s, a FIX decimal (an optional
// sign, digits, an optional '.' and digits, at least one digit): no '+',
// no leading zeros before the point, no trailing zeros after it, no point
// without a fraction, and "0" for any zero. ok is false if s is not a
// decimal.
func Normalize(s string) (norm string, ok bool) {
	if s == "" {
		return "", false
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	if intPart == "" && frac == "" {
		return "", false
	}
	for _, p := range [2]string{intPart, frac} {
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return "", false
			}
		}
	}
	for len(intPart) > 0 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if out == "0" {
		return "0", true
	}
	if neg {
		out = "-" + out
	}
	return out, true
}

// Equal reports whether a and b are the same value: as decimals when both
// are decimals, otherwise as strings (so two identical non-decimal values
// are equal and a decimal never equals garbage).
func Equal(a, b string) bool {
	na, oka := Normalize(a)
	nb, okb := Normalize(b)
	if oka && okb {
		return na == nb
	}
	return a == b
}
