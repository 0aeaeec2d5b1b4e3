package xref

import "github.com/fixtap/fixtap/internal/jscan"

// Records are read with internal/jscan (encoding/json was half of the
// reconciler's CPU, BenchmarkReconcile); FuzzScan checks the result
// against encoding/json on canonical events.

// scanHeader reads what headerBlock holds.
func scanHeader(b []byte, h *headerBlock) bool {
	s := jscan.New(b)
	return s.Object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "EventID":
			h.EventID, ok = s.Str()
		case "TraceID":
			h.TraceID, ok = s.Str()
		case "TimestampInt":
			h.TimestampInt, ok = s.Str()
		case "Symbol":
			h.Symbol, ok = s.Str()
		default:
			ok = s.Skip(1)
		}
		return ok
	}) && s.End()
}

// scanPayload reads what payloadBlock holds but VCP-XREF (the reader
// tells its own events by their bytes).
func scanPayload(b []byte, p *payloadBlock) bool {
	s := jscan.New(b)
	return s.Object(func(k []byte) bool {
		switch string(k) {
		case "FIX":
			if s.Null() {
				p.FIX = nil
				return true
			}
			if p.FIX == nil { // a repeated block merges, as encoding/json has it
				p.FIX = &fixBlock{}
			}
			return scanFix(s, p.FIX)
		case "VCP-TRADE":
			if s.Null() {
				p.Trade = nil
				return true
			}
			if p.Trade == nil {
				p.Trade = &tradeBlock{}
			}
			return scanTrade(s, p.Trade)
		}
		return s.Skip(1)
	}) && s.End()
}

func scanFix(s *jscan.Scanner, f *fixBlock) bool {
	return s.Object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "SessionID":
			f.SessionID, ok = s.Str()
		case "MsgType":
			f.MsgType, ok = s.Str()
		case "PossDupFlag":
			f.PossDupFlag, ok = s.Bool()
		case "Unprocessed":
			f.Unprocessed, ok = s.Bool()
		default:
			ok = s.Skip(2)
		}
		return ok
	})
}

func scanTrade(s *jscan.Scanner, t *tradeBlock) bool {
	return s.Object(func(k []byte) bool {
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
			return s.Skip(2)
		}
		var ok bool
		*dst, ok = s.Str()
		return ok
	})
}
