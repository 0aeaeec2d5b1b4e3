package verify

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestXRefRecheck: an outcome must hold against the events it names.
func TestXRefRecheck(t *testing.T) {
	h1, h2 := [32]byte{1}, [32]byte{2}
	facts := func(px2 string, t2 int64) map[string]*tradeFacts {
		return map[string]*tradeFacts{
			"L": {seq: 1, hash: h1, timeNs: 1_000_000_000, symbol: "ACME", trade: map[string]string{"ExecID": "E1", "Side": "1", "ExecutedQty": "100", "ExecutionPrice": "25.5"}},
			"C": {seq: 2, hash: h2, timeNs: t2, symbol: "ACME", trade: map[string]string{"ExecID": "E1", "Side": "1", "ExecutedQty": "100.0", "ExecutionPrice": px2}},
		}
	}
	block := func(status, details string, hash2 [32]byte) []byte {
		return []byte(`{"CrossReferenceID":"x","GroupID":"g","PartyRole":"INITIATOR","CounterpartyID":"V",` +
			`"SharedEventKey":{"AlternateKeys":["ExecID=E1"],"Timestamp":"1000000000","ToleranceMs":1000},` +
			`"LocalEventID":"L","LocalEventHash":"` + hex.EncodeToString(h1[:]) + `","CounterpartyEventID":"C","CounterpartyEventHash":"` + hex.EncodeToString(hash2[:]) +
			`","ReconciliationStatus":"` + status + `"` + details + `}`)
	}
	priceDetail := `,"DiscrepancyDetails":[{"Field":"ExecutionPrice","LocalValue":"25.5","CounterpartyValue":"25.51","Severity":"CRITICAL"}]`
	for _, tc := range []struct {
		name   string
		facts  map[string]*tradeFacts
		raw    []byte
		failed string // substring of the failure, "" for none
	}{
		{"matched, decimals equal", facts("25.50", 1_000_200_000), block("MATCHED", "", h2), ""},
		{"discrepancy stated", facts("25.51", 1_000_200_000), block("DISCREPANCY", priceDetail, h2), ""},
		{"matched but the price differs", facts("25.51", 1_000_200_000), block("MATCHED", "", h2), "ExecutionPrice is"},
		{"a discrepancy that is not there", facts("25.50", 1_000_200_000), block("DISCREPANCY", priceDetail, h2), "the events agree"},
		{"beyond tolerance, not stated", facts("25.50", 2_500_000_000), block("MATCHED", "", h2), "CaptureTime"},
		{"another event's hash", facts("25.50", 1_000_200_000), block("MATCHED", "", h1), "EventHash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &verifier{r: &Report{}, maxF: 10, m: &Manifest{XRef: 1}}
			c := &collector{v: v, xref: xrefState{facts: tc.facts, items: []xrefItem{{seq: 3, id: "X", raw: tc.raw}}}}
			c.checkXRefs()
			var got []string
			for _, f := range v.r.Failures {
				got = append(got, f.Error())
			}
			all := strings.Join(got, "\n")
			if (tc.failed == "") != (v.r.FailureCount == 0) || (tc.failed != "" && !strings.Contains(all, tc.failed)) {
				t.Fatalf("failures:\n%s\nwant %q", all, tc.failed)
			}
			if v.r.XRef.Rechecked != 1 {
				t.Fatalf("totals %+v", v.r.XRef)
			}
		})
	}
}
