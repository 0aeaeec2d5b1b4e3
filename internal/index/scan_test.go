package index

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

func TestScanAgreesOnFixture(t *testing.T) {
	ms, _ := fixture()
	for i, m := range ms {
		e := entry(t, m, i+1)
		e.Payload.TapSession = &chain.TapSession{SessionID: "S\"\\\u00e9\x01", Reason: "reset"}
		e.Payload.Trade = &chain.Trade{ClOrdID: "C", Sides: []chain.TradeSide{{OrderID: "O1"}, {ClOrdID: "C2"}}}
		e.Payload.AnchorRecord = map[string]any{"a": []any{1, "x", nil, true, map[string]any{"OrderID": "no"}}}
		checkScan(t, canonical(t, &e.Header), canonical(t, &e.Payload))
	}
	// Whitespace, escaped keys, nulls and duplicates, which JCS never writes.
	checkScan(t, []byte(` { "TraceID" : null , "Tim\u0065stampInt":"1", "TimestampInt":"2" } `),
		[]byte(`{"FIX":null,"VCP-TRADE":{"Sides":null,"ExecID":"E\u0031"},"TapSession":{"SessionID":"s"},"FIX":{"SessionID":"f","x":[{}]}}`))
}

func canonical(t testing.TB, v any) []byte {
	t.Helper()
	b, err := chain.AppendCanonical(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkScan compares the scanner with encoding/json.
func checkScan(t *testing.T, hb, pb []byte) {
	t.Helper()
	var h, hj header
	var p, pj payload
	okH, okP := scanHeader(hb, &h), scanPayload(pb, &p)
	errH, errP := json.Unmarshal(hb, &hj), json.Unmarshal(pb, &pj)
	if okH != (errH == nil) || okH && h != hj {
		t.Fatalf("header %s: scanner %v %+v, encoding/json %v %+v", hb, okH, h, errH, hj)
	}
	if okP != (errP == nil) || okP && !reflect.DeepEqual(p, pj) {
		t.Fatalf("payload %s: scanner %v %+v, encoding/json %v %+v", pb, okP, p, errP, pj)
	}
}

// FuzzScan: the scanner never panics on any bytes, and on the canonical
// Header and Payload of an event built from the fuzzed values it reads
// exactly what encoding/json reads.
func FuzzScan(f *testing.F) {
	ms, _ := fixture()
	for i, m := range ms {
		e := entry(f, m, i+1)
		f.Add(canonical(f, &e.Payload), m.trace, e.Header.TimestampInt, m.session, "C1", "C0", "O1", "X1", "O2", false)
		f.Add(canonical(f, &e.Header), "", "", "", "", "", "", "", "", true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, trace, ts, session, clOrd, orig, oid, exec, sideOID string, tapSession bool) {
		var h header
		var p payload
		scanHeader(raw, &h)
		scanPayload(raw, &p)

		hdr := chain.Header{EventID: "e", TraceID: trace, TimestampInt: ts, TimestampISO: "t", EventType: chain.EXE, EventTypeCode: 4}
		pay := chain.Payload{Trade: &chain.Trade{ClOrdID: clOrd, OrigClOrdID: orig, OrderID: oid, ExecID: exec,
			Sides: []chain.TradeSide{{OrderID: sideOID, ClOrdID: clOrd}}}}
		if tapSession {
			pay.TapSession = &chain.TapSession{SessionID: session}
		} else {
			pay.FIX = &chain.FIX{SessionID: session}
		}
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
