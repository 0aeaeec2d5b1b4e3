package xref

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

// checkScan compares the scanner with encoding/json.
func checkScan(t *testing.T, hb, pb []byte) {
	t.Helper()
	var h, hj headerBlock
	var p, pj payloadBlock
	okH, okP := scanHeader(hb, &h), scanPayload(pb, &p)
	errH, errP := json.Unmarshal(hb, &hj), json.Unmarshal(pb, &pj)
	if okH != (errH == nil) || okH && h != hj {
		t.Fatalf("header %s: scanner %v %+v, encoding/json %v %+v", hb, okH, h, errH, hj)
	}
	if okP != (errP == nil) || okP && !reflect.DeepEqual(p, pj) {
		t.Fatalf("payload %s: scanner %v %+v, encoding/json %v %+v", pb, okP, p, errP, pj)
	}
}

// TestScanAgreesOnScenario: on every event of the scenario the scanner
// reads what encoding/json reads.
func TestScanAgreesOnScenario(t *testing.T) {
	firm, venue, _, end := scenario(t, 400)
	for _, r := range records(t, append(merge(firm, venue), end)) {
		checkScan(t, r.Header, r.Payload)
	}
	// Whitespace, escaped keys, nulls and duplicates, which JCS never writes.
	checkScan(t, []byte(` { "TraceID" : null , "Sym\u0062ol":"A", "Symbol":"B", "EventID":"e" } `),
		[]byte(`{"FIX":{"PossDupFlag":null,"MsgType":"8","x":[{}]},"VCP-TRADE":{"Price":"1.0","ExecID":"E\u0031","Sides":[{"OrderID":"no"}]},"FIX":{"SessionID":"f","PossDupFlag":true}}`))
	checkScan(t, []byte(`{}`), []byte(`{"FIX":null,"VCP-TRADE":null}`))
}

// FuzzScan: the scanner never panics on any bytes, and on the canonical
// Header and Payload of an event built from the fuzzed values it reads
// exactly what encoding/json reads.
func FuzzScan(f *testing.F) {
	firm, _, _, _ := scenario(f, 400)
	for _, r := range records(f, firm[:20]) {
		f.Add(r.Payload, "T", "1795000000000000000", "AAPL", "FIX.4.4:TAP->OMS", "8", "X1", "100.5", true)
		f.Add(r.Header, "", "", "", "", "", "", "", false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, trace, ts, symbol, session, msgType, exec, price string, possDup bool) {
		var h headerBlock
		var p payloadBlock
		scanHeader(raw, &h)
		scanPayload(raw, &p)

		hdr := chain.Header{EventID: "e", TraceID: trace, TimestampInt: ts, TimestampISO: "t", EventType: chain.EXE, EventTypeCode: 4, Symbol: symbol}
		pay := chain.Payload{FIX: &chain.FIX{SessionID: session, MsgType: msgType, PossDupFlag: possDup},
			Trade: &chain.Trade{ExecID: exec, Price: price, ExecutionPrice: price, Side: symbol}}
		hb, err := chain.AppendCanonical(nil, &hdr)
		if err != nil {
			return // not valid UTF-8: the chain refuses it
		}
		pb, err := chain.AppendCanonical(nil, &pay)
		if err != nil {
			return
		}
		checkScan(t, hb, pb)
	})
}
