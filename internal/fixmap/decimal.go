package fixmap

import "fmt"

// isPositiveDecimal reports whether s, a FIX Qty/Price value (an optional
// sign, digits, an optional '.' and digits; at least one digit), is greater
// than zero. It reads the characters only — no float is involved, so
// "0.0000000001" is positive and "-0" and "0.000" are not.
func isPositiveDecimal(s string) (bool, error) {
	if s == "" {
		return false, fmt.Errorf("fixmap: empty decimal")
	}
	i := 0
	neg := false
	switch s[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	digits, nonzero, dot := 0, false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if c != '0' {
				nonzero = true
			}
		case c == '.' && !dot:
			dot = true
		default:
			return false, fmt.Errorf("fixmap: %q is not a decimal number", s)
		}
	}
	if digits == 0 {
		return false, fmt.Errorf("fixmap: %q is not a decimal number", s)
	}
	return nonzero && !neg, nil
}
