package index

import "github.com/fixtap/fixtap/internal/jscan"

// Records are read with internal/jscan (only the fields the index needs);
// FuzzScan checks the result against encoding/json on canonical events.

// scanHeader reads TraceID and TimestampInt.
func scanHeader(b []byte, h *header) bool {
	s := jscan.New(b)
	return s.Object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "TraceID":
			h.TraceID, ok = s.Str()
		case "TimestampInt":
			h.TimestampInt, ok = s.Str()
		default:
			ok = s.Skip(1)
		}
		return ok
	}) && s.End()
}

// scanSessionBlock reads the SessionID of a FIX or TapSession block into *dst
// (a null block is nil, as encoding/json has it).
func scanSessionBlock(s *jscan.Scanner, dst **sessionRef) bool {
	if s.Null() {
		*dst = nil
		return true
	}
	v := &sessionRef{}
	*dst = v
	return s.Object(func(k []byte) bool {
		if string(k) == "SessionID" {
			var ok bool
			v.SessionID, ok = s.Str()
			return ok
		}
		return s.Skip(2)
	})
}

// scanPayload reads the FIX and TapSession SessionIDs and the VCP-TRADE
// identifiers.
func scanPayload(b []byte, p *payload) bool {
	s := jscan.New(b)
	return s.Object(func(k []byte) bool {
		switch string(k) {
		case "FIX":
			return scanSessionBlock(s, &p.FIX)
		case "TapSession":
			return scanSessionBlock(s, &p.TapSession)
		case "VCP-TRADE":
			if s.Null() {
				p.Trade = nil
				return true
			}
			p.Trade = &tradeIDs{}
			return scanTrade(s, p.Trade)
		}
		return s.Skip(1)
	}) && s.End()
}

func scanTrade(s *jscan.Scanner, t *tradeIDs) bool {
	return s.Object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "OrderID":
			t.OrderID, ok = s.Str()
		case "ClOrdID":
			t.ClOrdID, ok = s.Str()
		case "OrigClOrdID":
			t.OrigClOrdID, ok = s.Str()
		case "ExecID":
			t.ExecID, ok = s.Str()
		case "Sides":
			if s.Null() {
				t.Sides = nil
				return true
			}
			t.Sides = t.Sides[:0]
			ok = s.Array(func() bool {
				t.Sides = append(t.Sides, side{})
				sd := &t.Sides[len(t.Sides)-1]
				return s.Object(func(k []byte) bool {
					var ok bool
					switch string(k) {
					case "OrderID":
						sd.OrderID, ok = s.Str()
					case "ClOrdID":
						sd.ClOrdID, ok = s.Str()
					default:
						ok = s.Skip(4)
					}
					return ok
				})
			})
		default:
			ok = s.Skip(2)
		}
		return ok
	})
}
