package jcs

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Byte classes for string serialization (RFC 8785 §3.2.2.2).
const (
	classPlain    = iota // ASCII copied as is
	classEscape          // '"', '\\' or U+0000..U+001F: must be escaped
	classNonASCII        // a byte of a multi-byte UTF-8 sequence
)

// byteClass classifies every byte value for string serialization.
var byteClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20 || c == '"' || c == '\\':
			t[c] = classEscape
		case c >= utf8.RuneSelf:
			t[c] = classNonASCII
		}
	}
	return t
}()

const lowerHex = "0123456789abcdef"

// appendEscape appends the canonical escape for a byte of class
// classEscape, as RFC 8785 §3.2.2.2 prescribes: \" and \\; \b \t \n \f \r
// for the five control characters JSON names; \u00xx in lower-case hex for
// the rest of U+0000..U+001F.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\t':
		return append(dst, '\\', 't')
	case '\n':
		return append(dst, '\\', 'n')
	case '\f':
		return append(dst, '\\', 'f')
	case '\r':
		return append(dst, '\\', 'r')
	}
	return append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
}

// AppendString appends s as a canonical JSON string literal (RFC 8785
// §3.2.2.2): '"', '\\' and U+0000..U+001F are escaped (see appendEscape);
// every other character, including U+007F, '<', '>', '&', U+2028 and
// U+2029, is copied verbatim as UTF-8.
//
// If s is not valid UTF-8 (which includes UTF-8-encoded surrogate halves),
// AppendString returns dst unchanged together with an *Error wrapping
// ErrInvalidUTF8 whose Offset is the index in s of the first bad byte.
// Bytes of dst beyond len(dst) may have been overwritten in that case; the
// first len(dst) bytes are not.
//
// AppendString allocates only when dst must grow.
func AppendString(dst []byte, s string) ([]byte, error) {
	// Fast path: plain ASCII needing no escapes. Scan, then one append.
	i := 0
	for i < len(s) && byteClass[s[i]] == classPlain {
		i++
	}
	if i == len(s) {
		dst = slices.Grow(dst, len(s)+2)
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), nil
	}

	orig := dst
	dst = slices.Grow(dst, len(s)+2)
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending: to be copied verbatim
	for i < len(s) {
		c := s[i]
		switch byteClass[c] {
		case classPlain:
			i++
		case classEscape:
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return orig, &Error{
					Offset: i,
					Detail: "byte " + quoteDetail(s[i:i+1]),
					Err:    ErrInvalidUTF8,
				}
			}
			i += size
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// appendValidString is AppendString for text already known to be valid
// UTF-8 (Transform validates while decoding), so multi-byte sequences are
// copied without being decoded again.
func appendValidString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; byteClass[c] == classEscape {
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			start = i + 1
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendFloat appends f in the form of ECMAScript's Number.prototype.toString
// (ECMA-262 §7.1.12.1, "Note 2" included), as RFC 8785 §3.2.2.3 requires:
// the shortest decimal that round-trips to f; plain notation for
// 1e-6 <= |f| < 1e21 and exponential notation ("1e+21", "1.5e-7")
// otherwise; "0" for both zeros.
//
// NaN and ±Inf are not JSON numbers: AppendFloat returns dst unchanged
// and an *Error wrapping ErrNonFinite.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, &Error{
			Offset: -1,
			Detail: strconv.FormatFloat(f, 'g', -1, 64),
			Err:    ErrNonFinite,
		}
	}
	if f == 0 { // both +0 and -0
		return append(dst, '0'), nil
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	if f >= 1e-6 && f < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
	}
	// strconv writes at least two exponent digits ("1e-07", "1e+21");
	// ECMAScript writes no leading zeros ("1e-7").
	mark := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	e := mark
	for dst[e] != 'e' {
		e++
	}
	if d := e + 2; dst[d] == '0' { // e, sign, first digit
		copy(dst[d:], dst[d+1:])
		dst = dst[:len(dst)-1]
	}
	return dst, nil
}

// AppendInt appends i in decimal. Every JCS consumer reads numbers as IEEE
// 754 doubles (RFC 8785 §3.1, §3.2.2.3), so an integer with |i| > 2^53-1
// might not survive the trip: AppendInt returns dst unchanged and an
// *Error wrapping ErrUnsafeInteger for it. Carry such values as strings.
//
// Within that range the decimal form is exactly what AppendFloat would
// produce for float64(i).
func AppendInt(dst []byte, i int64) ([]byte, error) {
	if i > maxSafeInteger || i < -maxSafeInteger {
		return dst, &Error{
			Offset: -1,
			Detail: strconv.FormatInt(i, 10),
			Err:    ErrUnsafeInteger,
		}
	}
	return strconv.AppendInt(dst, i, 10), nil
}
