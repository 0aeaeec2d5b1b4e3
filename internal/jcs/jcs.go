// Package jcs implements the JSON Canonicalization Scheme of RFC 8785.
//
// fixtap hashes every audit event as
//
//	SHA-256(JCS(Header) || JCS(Payload) || prevHashHex)
//
// so the bytes produced here are the bytes that get hashed. Two entry
// points exist for the two sides of that contract:
//
//   - The hot path builds canonical bytes directly from typed Go structs
//     with [AppendString], [AppendInt] and [AppendFloat], emitting object
//     members in the order given by [Less]. Nothing is parsed and nothing
//     is allocated beyond growing the caller's buffer.
//   - The offline verifier re-canonicalizes arbitrary JSON text with
//     [Transform].
//
// Where each rule of the RFC is implemented:
//
//   - §3.1 (input must be I-JSON, RFC 7493): [Transform] rejects duplicate
//     property names (compared after unescaping, [ErrDuplicateKey]),
//     strings that are not Unicode (raw invalid UTF-8, [ErrInvalidUTF8];
//     lone surrogates in \u escapes, [ErrLoneSurrogate]) and numbers that
//     are not IEEE 754 doubles ([ErrNonFinite] for overflow). [AppendInt]
//     refuses integers a double cannot hold exactly ([ErrUnsafeInteger]).
//   - §3.2.1 (no whitespace between tokens): the serializer in transform.go
//     never emits any.
//   - §3.2.2.1 (literals): null, true and false are copied as is.
//   - §3.2.2.2 (strings): [AppendString]; the note on lone surrogates is
//     enforced by the string decoder in transform.go.
//   - §3.2.2.3 (numbers, ECMAScript Number.prototype.toString): [AppendFloat];
//     NaN and Infinity are errors ([ErrNonFinite]).
//   - §3.2.3 (property order by UTF-16 code units): [Less], and the object
//     sort in transform.go.
//   - §3.2.4 (UTF-8 output): all output is UTF-8, because all input is
//     validated as UTF-8 and escapes are decoded to UTF-8.
//
// Beyond the RFC, [Transform] parses strictly by RFC 8259 (exactly one
// value, optional whitespace around it, nothing else) and limits nesting of
// arrays and objects to 1000 levels ([ErrTooDeep]).
//
// Every error returned by this package is a *[Error] wrapping one of the
// sentinel errors below, so callers can use errors.Is for the class and
// errors.As for the position.
package jcs

import (
	"errors"
	"strconv"
)

// Sentinel errors, usable with errors.Is.
var (
	// ErrInvalidUTF8 reports bytes that are not well-formed UTF-8. That
	// includes UTF-8-encoded surrogate halves (U+D800..U+DFFF), which Go's
	// utf8.ValidString already rejects.
	ErrInvalidUTF8 = errors.New("jcs: invalid UTF-8")
	// ErrLoneSurrogate reports a \u escape holding a surrogate half that is
	// not part of a high-low pair (RFC 8785 §3.2.2.2, note).
	ErrLoneSurrogate = errors.New("jcs: lone surrogate in \\u escape")
	// ErrNonFinite reports NaN, an infinity, or a number literal too large
	// for an IEEE 754 double (RFC 8785 §3.1 and §3.2.2.3, note).
	ErrNonFinite = errors.New("jcs: NaN or infinite number")
	// ErrUnsafeInteger reports an integer that a JCS consumer, which reads
	// every number as an IEEE 754 double, could not represent exactly.
	ErrUnsafeInteger = errors.New("jcs: integer outside ±(2^53-1)")
	// ErrDuplicateKey reports an object with two members of the same name,
	// after unescaping (RFC 8785 §3.1; RFC 7493 §2.3).
	ErrDuplicateKey = errors.New("jcs: duplicate object key")
	// ErrSyntax reports input that is not JSON text (RFC 8259).
	ErrSyntax = errors.New("jcs: invalid JSON")
	// ErrTooDeep reports arrays and objects nested more than 1000 deep.
	ErrTooDeep = errors.New("jcs: nesting too deep")
)

// maxDepth is the deepest nesting of arrays and objects Transform accepts.
// A document of maxDepth nested arrays is accepted; one more is not.
const maxDepth = 1000

// maxSafeInteger is 2^53-1, the largest integer n such that every integer
// in [-n, n] is exactly representable as an IEEE 754 double.
const maxSafeInteger = 1<<53 - 1

// Error carries the evidence for a failure: where it happened and which
// sentinel error describes it.
type Error struct {
	// Offset is the byte offset of the offending input: into the text
	// given to Transform, or into the string given to AppendString. It is
	// -1 when the error concerns a value rather than a position
	// (AppendFloat, AppendInt).
	Offset int
	// Detail says what was found, quoted and truncated so that it is safe
	// to log.
	Detail string
	// Err is one of the package's sentinel errors.
	Err error
}

// Error formats the sentinel's text, the offset if there is one, and the
// detail, e.g. `jcs: invalid JSON at offset 7: unexpected byte 'x'`.
func (e *Error) Error() string {
	msg := "jcs: error"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Offset >= 0 {
		msg += " at offset " + strconv.Itoa(e.Offset)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the sentinel error, so errors.Is works.
func (e *Error) Unwrap() error { return e.Err }

// maxDetailBytes bounds how much of the input is copied into an error.
const maxDetailBytes = 32

// quoteDetail renders a fragment of input for an error message: quoted, so
// that control characters and invalid bytes cannot reach a log raw, and
// truncated, so that a hostile document cannot flood one.
func quoteDetail[T ~string | ~[]byte](s T) string {
	if len(s) > maxDetailBytes {
		return strconv.Quote(string(s[:maxDetailBytes])) + "..."
	}
	return strconv.Quote(string(s))
}

// Less reports whether property name a sorts before property name b in a
// canonical object: RFC 8785 §3.2.3 compares names as sequences of UTF-16
// code units, as unsigned integers, with a proper prefix sorting first.
//
// Names are not converted to UTF-16. UTF-8 byte order already equals code
// point order, and code point order differs from UTF-16 code unit order in
// one place only: a supplementary character (U+10000 and up, encoded in
// UTF-16 as a surrogate pair starting 0xD800..0xDBFF) sorts before
// U+E000..U+FFFF in UTF-16 but after it in UTF-8. In UTF-8 those two groups
// are told apart by their lead bytes, 0xF0..0xF4 and 0xEE..0xEF, so it is
// enough to compare bytes with those lead bytes reordered; see utf16Rank.
//
// For valid UTF-8 the result is exactly the RFC's order. For other strings
// it is still a strict total order (a byte-wise order under a permutation
// of byte values), just not a meaningful one.
func Less(a, b string) bool {
	return compareUTF16(a, b) < 0
}

// compareUTF16 returns -1, 0 or +1 as a sorts before, equal to, or after b
// in RFC 8785 §3.2.3 order. See Less for why a byte comparison suffices.
func compareUTF16[T ~string | ~[]byte](a, b T) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			// a[:i] == b[:i], so for valid UTF-8 position i is either a
			// rune start in both or a continuation byte in both. Only
			// lead bytes are remapped, and a lead byte is only ever
			// compared with another lead byte or with ASCII.
			if utf16Rank[a[i]] < utf16Rank[b[i]] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// utf16Rank maps a UTF-8 byte to a sort weight such that comparing the
// weights of the first differing bytes of two valid UTF-8 strings orders
// them by UTF-16 code units: the lead bytes of supplementary characters
// (0xF0..0xF4) move below the lead bytes of U+E000..U+FFFF (0xEE, 0xEF).
// Every other byte keeps its value, and the table is a permutation.
var utf16Rank = func() (t [256]uint8) {
	for i := range t {
		t[i] = uint8(i)
	}
	for c := 0xF0; c <= 0xF4; c++ {
		t[c] = uint8(c - 2) // 0xEE..0xF2
	}
	t[0xEE] = 0xF3
	t[0xEF] = 0xF4
	return t
}()
