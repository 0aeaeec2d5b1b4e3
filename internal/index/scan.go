package index

import (
	"encoding/json"
	"unicode/utf8"
)

// A scanner reads only the fields the index needs out of a record's Header
// and Payload, skipping the rest without building it: encoding/json spends
// ~12 µs on a 770-byte execution report, this ~1 µs, and the Indexer runs
// beside the ingest path on the same cores.
//
// It is written for the JCS bytes the chain stores (RFC 8785: no
// whitespace, keys sorted, strings escaped minimally) and reads any JSON
// text the way encoding/json reads it into the index's small structs —
// except that keys match exactly (encoding/json also takes "traceid" for
// TraceID; the chain's encoder never writes such a key). A null string or
// block is absent; of duplicate keys the last wins. It checks the structure
// it walks, not every byte it skips: a malformed number inside a skipped
// value passes (the log's integrity is its hashes, checked elsewhere).
// FuzzScan checks it against encoding/json on canonical events.
type scanner struct {
	b []byte
	i int
}

// maxDepth bounds the nesting the scanner skips (the chain's own payloads
// nest four deep).
const maxDepth = 64

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawString reads a string token and returns its contents without the
// quotes, and whether it holds an escape.
func (s *scanner) rawString() (raw []byte, escaped, ok bool) {
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

// str reads a string value; null reads as "".
func (s *scanner) str() (string, bool) {
	if s.null() {
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

// object walks an object, calling field with each key; field must consume
// the value (or call skip).
func (s *scanner) object(field func(key []byte) bool) bool {
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

// skip skips one value.
func (s *scanner) skip(depth int) bool {
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
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.b) && (s.b[s.i] >= '0' && s.b[s.i] <= '9' || s.b[s.i] == '-' || s.b[s.i] == '+' || s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
			s.i++
		}
		return s.i > start
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// array walks an array, calling elem at each element.
func (s *scanner) array(elem func() bool) bool {
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

// null reports (and consumes) a JSON null, which encoding/json treats as
// an absent block.
func (s *scanner) null() bool {
	s.ws()
	return s.literal("null")
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// scanHeader reads TraceID and TimestampInt.
func scanHeader(b []byte, h *header) bool {
	s := scanner{b: b}
	return s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "TraceID":
			h.TraceID, ok = s.str()
		case "TimestampInt":
			h.TimestampInt, ok = s.str()
		default:
			ok = s.skip(1)
		}
		return ok
	}) && s.end()
}

// sessionBlock reads the SessionID of a FIX or TapSession block into *dst
// (a null block is nil, as encoding/json has it).
func (s *scanner) sessionBlock(dst **sessionRef) bool {
	if s.null() {
		*dst = nil
		return true
	}
	v := &sessionRef{}
	*dst = v
	return s.object(func(k []byte) bool {
		if string(k) == "SessionID" {
			var ok bool
			v.SessionID, ok = s.str()
			return ok
		}
		return s.skip(2)
	})
}

// scanPayload reads the FIX and TapSession SessionIDs and the VCP-TRADE
// identifiers.
func scanPayload(b []byte, p *payload) bool {
	s := scanner{b: b}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "FIX":
			return s.sessionBlock(&p.FIX)
		case "TapSession":
			return s.sessionBlock(&p.TapSession)
		case "VCP-TRADE":
			if s.null() {
				p.Trade = nil
				return true
			}
			p.Trade = &tradeIDs{}
			return s.trade(p.Trade)
		}
		return s.skip(1)
	}) && s.end()
}

func (s *scanner) trade(t *tradeIDs) bool {
	return s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "OrderID":
			t.OrderID, ok = s.str()
		case "ClOrdID":
			t.ClOrdID, ok = s.str()
		case "OrigClOrdID":
			t.OrigClOrdID, ok = s.str()
		case "ExecID":
			t.ExecID, ok = s.str()
		case "Sides":
			if s.null() {
				t.Sides = nil
				return true
			}
			t.Sides = t.Sides[:0]
			ok = s.array(func() bool {
				t.Sides = append(t.Sides, side{})
				sd := &t.Sides[len(t.Sides)-1]
				return s.object(func(k []byte) bool {
					var ok bool
					switch string(k) {
					case "OrderID":
						sd.OrderID, ok = s.str()
					case "ClOrdID":
						sd.ClOrdID, ok = s.str()
					default:
						ok = s.skip(4)
					}
					return ok
				})
			})
		default:
			ok = s.skip(2)
		}
		return ok
	})
}
