package xref

import (
	"encoding/json"
	"unicode/utf8"
)

// The reader's scanner: encoding/json was half of the reconciler's CPU
// (BenchmarkReconcile, docs/performance.md), so records are read the way
// internal/index reads them — its scanner's core, copied (scan.go there):
// only the fields the reconciler needs are read out of a record's JCS
// Header and Payload, the rest skipped without being built.
//
// It reads any JSON text the way encoding/json reads it into the reader's
// structs (input.go) — except that keys match exactly (encoding/json also
// takes "symbol" for Symbol; the chain's encoder never writes such a key).
// A null string, bool or block is absent; of duplicate keys the last wins.
// It checks the structure it walks, not every byte it skips. FuzzScan
// checks it against encoding/json on canonical events.
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

// boolean reads true or false; null reads as false.
func (s *scanner) boolean() (bool, bool) {
	s.ws()
	switch {
	case s.literal("true"):
		return true, true
	case s.literal("false"), s.literal("null"):
		return false, true
	}
	return false, false
}

// scanHeader reads what headerBlock holds.
func scanHeader(b []byte, h *headerBlock) bool {
	s := scanner{b: b}
	return s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "EventID":
			h.EventID, ok = s.str()
		case "TraceID":
			h.TraceID, ok = s.str()
		case "TimestampInt":
			h.TimestampInt, ok = s.str()
		case "Symbol":
			h.Symbol, ok = s.str()
		default:
			ok = s.skip(1)
		}
		return ok
	}) && s.end()
}

// scanPayload reads what payloadBlock holds but VCP-XREF (the reader
// tells its own events by their bytes).
func scanPayload(b []byte, p *payloadBlock) bool {
	s := scanner{b: b}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "FIX":
			if s.null() {
				p.FIX = nil
				return true
			}
			if p.FIX == nil { // a repeated block merges, as encoding/json has it
				p.FIX = &fixBlock{}
			}
			return s.fix(p.FIX)
		case "VCP-TRADE":
			if s.null() {
				p.Trade = nil
				return true
			}
			if p.Trade == nil {
				p.Trade = &tradeBlock{}
			}
			return s.trade(p.Trade)
		}
		return s.skip(1)
	}) && s.end()
}

func (s *scanner) fix(f *fixBlock) bool {
	return s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "SessionID":
			f.SessionID, ok = s.str()
		case "MsgType":
			f.MsgType, ok = s.str()
		case "PossDupFlag":
			f.PossDupFlag, ok = s.boolean()
		case "Unprocessed":
			f.Unprocessed, ok = s.boolean()
		default:
			ok = s.skip(2)
		}
		return ok
	})
}

func (s *scanner) trade(t *tradeBlock) bool {
	return s.object(func(k []byte) bool {
		var dst *string
		switch string(k) {
		case "OrderID":
			dst = &t.OrderID
		case "ClOrdID":
			dst = &t.ClOrdID
		case "OrigClOrdID":
			dst = &t.OrigClOrdID
		case "ExecID":
			dst = &t.ExecID
		case "ExecRefID":
			dst = &t.ExecRefID
		case "SecondaryExecID":
			dst = &t.SecondaryExecID
		case "TradeReportID":
			dst = &t.TradeReportID
		case "Side":
			dst = &t.Side
		case "Quantity":
			dst = &t.Quantity
		case "Price":
			dst = &t.Price
		case "ExecutedQty":
			dst = &t.ExecutedQty
		case "ExecutionPrice":
			dst = &t.ExecutionPrice
		default:
			return s.skip(2)
		}
		var ok bool
		*dst, ok = s.str()
		return ok
	})
}
