// Package jscan reads a few fields out of a stored event's Header and
// Payload without building the rest: encoding/json spends ~12 µs on a
// 770-byte execution report, a walk with Scanner ~1 µs. internal/index and
// internal/xref read every record behind the log on the same cores as
// ingest, so they read it this way; each keeps its own field selection
// (and a FuzzScan against encoding/json).
//
// It is written for the JCS bytes the chain stores (RFC 8785: no
// whitespace, keys sorted, strings escaped minimally) and reads any JSON
// text the way encoding/json reads it into small structs — except that
// keys match exactly (encoding/json also takes "traceid" for TraceID; the
// chain's encoder never writes such a key). A null string or block is
// absent; of duplicate keys the last wins. It checks the structure it
// walks, not every byte it skips: a malformed number inside a skipped value
// passes (the log's integrity is its hashes, checked elsewhere).
package jscan

import (
	"encoding/json"
	"unicode/utf8"
)

// A Scanner walks one JSON text, front to back.
type Scanner struct {
	b []byte
	i int
}

// maxDepth bounds the nesting the scanner skips (the chain's own payloads
// nest four deep).
const maxDepth = 64

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *Scanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawString reads a string token and returns its contents without the
// quotes, and whether it holds an escape.
func (s *Scanner) rawString() (raw []byte, escaped, ok bool) {
	if !s.eat('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], escaped, true
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false, false
		default:
			s.i++
		}
	}
	return nil, false, false
}

// Str reads a string value; null reads as "".
func (s *Scanner) Str() (string, bool) {
	if s.Null() {
		return "", true
	}
	s.ws()
	at := s.i
	raw, escaped, ok := s.rawString()
	if !ok {
		return "", false
	}
	if !escaped && utf8.Valid(raw) {
		return string(raw), true
	}
	var v string
	if err := json.Unmarshal(s.b[at:s.i], &v); err != nil {
		return "", false
	}
	return v, true
}

// Object walks an object, calling field with each key; field must consume
// the value (or call Skip).
func (s *Scanner) Object(field func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		at := s.i
		key, escaped, ok := s.rawString()
		if ok && escaped {
			var k string
			if json.Unmarshal(s.b[at:s.i], &k) != nil {
				return false
			}
			key = []byte(k)
		}
		if !ok || !s.eat(':') || !field(key) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// Skip skips one value.
func (s *Scanner) Skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.rawString()
		return ok
	case c == '{':
		return s.Object(func([]byte) bool { return s.Skip(depth + 1) })
	case c == '[':
		return s.Array(func() bool { return s.Skip(depth + 1) })
	case c == 't':
		return s.Literal("true")
	case c == 'f':
		return s.Literal("false")
	case c == 'n':
		return s.Literal("null")
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.b) && (s.b[s.i] >= '0' && s.b[s.i] <= '9' || s.b[s.i] == '-' || s.b[s.i] == '+' || s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
			s.i++
		}
		return s.i > start
	}
	return false
}

// Literal consumes lit if the text continues with it.
func (s *Scanner) Literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// Array walks an array, calling elem at each element.
func (s *Scanner) Array(elem func() bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat(']')
	}
}

// Null reports (and consumes) a JSON null, which encoding/json treats as
// an absent block.
func (s *Scanner) Null() bool {
	s.ws()
	return s.Literal("null")
}

// End reports whether only whitespace is left.
func (s *Scanner) End() bool {
	s.ws()
	return s.i == len(s.b)
}

// Bool reads true or false; null reads as false.
func (s *Scanner) Bool() (bool, bool) {
	s.ws()
	switch {
	case s.Literal("true"):
		return true, true
	case s.Literal("false"), s.Literal("null"):
		return false, true
	}
	return false, false
}

// New returns a Scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }
