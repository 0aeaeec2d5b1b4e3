package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/fixtap/fixtap/internal/decimal"
)

// VCP-XREF outcomes (docs/vcp-profile.md §9l) are re-checked against the
// two events they name whenever both are in the bundle: the EventHashes
// they state, the matched key in both events, every stated discrepancy
// true and no true one left out (side, symbol, quantities and prices as
// exact decimals; capture times against ToleranceMs), and MATCHED only
// when nothing differs. This is written apart from internal/xref, so the
// verifier does not take the reconciler's word.

// XRefTotals counts the bundle's reconciliation outcomes.
type XRefTotals struct {
	Matched     int `json:"Matched"`
	Discrepancy int `json:"Discrepancy"`
	Timeout     int `json:"Timeout"`
	// Rechecked outcomes had every event they name in the bundle; the
	// others could only be checked for form.
	Rechecked  int `json:"Rechecked"`
	NotInHere  int `json:"NamedEventsNotInBundle"`
	Duplicates int `json:"Duplicates"`
}

type tradeFacts struct {
	seq     uint64
	hash    [32]byte
	timeNs  int64
	symbol  string
	possDup bool
	rawSHA  string
	trade   map[string]string
}

type xrefItem struct {
	seq uint64
	id  string
	raw []byte
}

type xrefState struct {
	facts map[string]*tradeFacts // by EventID
	items []xrefItem
}

// xrefBlock is the VCP-XREF block as the verifier reads it.
type xrefBlock struct {
	CrossReferenceID string
	PartyRole        string
	CounterpartyID   string
	SharedEventKey   struct {
		OrderID       string
		AlternateKeys []string
		Timestamp     string
		ToleranceMs   int64
	}
	LocalEventID, LocalEventHash               string
	CounterpartyEventID, CounterpartyEventHash string
	ReconciliationStatus                       string
	DiscrepancyDetails                         []struct {
		Field, LocalValue, CounterpartyValue, Severity string
	}
	RepeatsEventID, RepeatsEventHash string
	Timeout                          *struct {
		ExpectedRole string
		Reason       string
	}
}

// compared are the fields an outcome compares, and whether as decimals.
var xrefCompared = []struct {
	name    string
	decimal bool
}{{"Side", false}, {"Symbol", false}, {"Quantity", true}, {"Price", true}, {"ExecutedQty", true}, {"ExecutionPrice", true}}

func (c *collector) collectXRef(r *evResult) {
	if c.v.m.XRef == 0 {
		if r.pay.XRef != nil && c.xref.items == nil {
			c.v.fail(Failure{Layer: "xref", Check: "manifest", Seq: u64p(r.seq), EventID: r.id,
				Detail: "a VCP-XREF event, but the signed manifest says the bundle holds none"})
			c.xref.items = []xrefItem{}
		}
		return
	}
	if c.xref.facts == nil {
		c.xref.facts = map[string]*tradeFacts{}
	}
	if r.pay.Trade != nil {
		f := &tradeFacts{seq: r.seq, hash: r.hash, timeNs: r.time, symbol: r.hdr.Symbol, trade: r.pay.Trade}
		if r.pay.FIX != nil {
			f.possDup, f.rawSHA = r.pay.FIX.PossDupFlag, r.pay.FIX.RawSHA256
		}
		c.xref.facts[r.id] = f
	}
	if r.pay.XRef != nil {
		c.xref.items = append(c.xref.items, xrefItem{seq: r.seq, id: r.id, raw: r.pay.XRef})
	}
}

func (f *tradeFacts) field(name string) string {
	if name == "Symbol" {
		return f.symbol
	}
	return f.trade[name]
}

func (c *collector) checkXRefs() {
	v := c.v
	st := &c.xref
	if v.m.XRef == 0 || v.opts.HashesOnly {
		return
	}
	t := &XRefTotals{}
	v.r.XRef = t
	v.checkXRefFile(st)
	if uint64(len(st.items)) != v.m.XRef {
		v.fail(Failure{Layer: "xref", Check: "manifest", Detail: fmt.Sprintf("%d VCP-XREF events, the manifest says %d", len(st.items), v.m.XRef)})
	}
	for _, it := range st.items {
		fail := func(format string, args ...any) {
			v.fail(Failure{Layer: "xref", Check: "outcome", Seq: u64p(it.seq), EventID: it.id, Detail: fmt.Sprintf(format, args...)})
		}
		var x xrefBlock
		if err := json.Unmarshal(it.raw, &x); err != nil {
			fail("VCP-XREF: %v", err)
			continue
		}
		switch x.ReconciliationStatus {
		case "MATCHED":
			t.Matched++
		case "DISCREPANCY":
			t.Discrepancy++
		case "TIMEOUT":
			t.Timeout++
		default:
			fail("ReconciliationStatus %q", x.ReconciliationStatus)
			continue
		}
		// The events it names must be the ones in the bundle, hash for hash.
		named := map[string]string{x.LocalEventID: x.LocalEventHash, x.CounterpartyEventID: x.CounterpartyEventHash, x.RepeatsEventID: x.RepeatsEventHash}
		delete(named, "")
		complete := true
		for id, h := range named {
			f, ok := st.facts[id]
			if !ok {
				complete = false
				continue
			}
			if h != hex.EncodeToString(f.hash[:]) {
				fail("names event %s (seq %d) with EventHash %s; the event's is %x", id, f.seq, h, f.hash)
			}
		}
		if !complete {
			t.NotInHere++
			continue
		}
		t.Rechecked++
		// The matched key, "Field=value", holds in every named event.
		if len(x.SharedEventKey.AlternateKeys) == 0 {
			fail("SharedEventKey.AlternateKeys is empty")
			continue
		}
		field, value, _ := strings.Cut(x.SharedEventKey.AlternateKeys[0], "=")
		keyed := func(f *tradeFacts) bool {
			if f.trade[field] == value {
				return true
			}
			// A key matches across identifier fields (one side's ExecID,
			// the other's SecondaryExecID).
			for _, k := range x.SharedEventKey.AlternateKeys {
				if kf, kv, _ := strings.Cut(k, "="); f.trade[kf] == kv {
					return true
				}
			}
			return false
		}
		for id := range named {
			if f := st.facts[id]; !keyed(f) {
				fail("event %s (seq %d) does not carry the key %s", id, f.seq, x.SharedEventKey.AlternateKeys[0])
			}
		}
		got := map[string][2]string{}
		for _, d := range x.DiscrepancyDetails {
			got[d.Field] = [2]string{d.LocalValue, d.CounterpartyValue}
		}
		if x.RepeatsEventID != "" {
			// A duplicate: its one detail is PossDupFlag, true to the copy.
			t.Duplicates++
			dupID := x.LocalEventID
			if dupID == "" {
				dupID = x.CounterpartyEventID
			}
			d, ok := got["PossDupFlag"]
			want := "N"
			if f := st.facts[dupID]; f != nil && f.possDup {
				want = "Y"
			}
			if !ok || (d[0] != want && d[1] != want) {
				fail("a duplicate's PossDupFlag detail %v; the copy says %s", d, want)
			}
			continue
		}
		if x.ReconciliationStatus == "TIMEOUT" {
			if x.LocalEventID != "" && x.CounterpartyEventID != "" {
				fail("TIMEOUT names both sides")
			}
			continue
		}
		l, cp := st.facts[x.LocalEventID], st.facts[x.CounterpartyEventID]
		if l == nil || cp == nil {
			fail("%s names only one side", x.ReconciliationStatus)
			continue
		}
		want := map[string][2]string{}
		for _, f := range xrefCompared {
			a, b := l.field(f.name), cp.field(f.name)
			if a == b || (f.decimal && decimal.Equal(a, b)) {
				continue
			}
			want[f.name] = [2]string{a, b}
		}
		if d := l.timeNs - cp.timeNs; d > x.SharedEventKey.ToleranceMs*1_000_000 || -d > x.SharedEventKey.ToleranceMs*1_000_000 {
			want["CaptureTime"] = [2]string{strconv.FormatInt(l.timeNs, 10), strconv.FormatInt(cp.timeNs, 10)}
		}
		var diffs []string
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				diffs = append(diffs, fmt.Sprintf("%s is %q vs %q but the outcome says %q vs %q", k, w[0], w[1], g[0], g[1]))
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: the outcome states %q vs %q, the events agree", k, g[0], g[1]))
			}
		}
		if (len(want) == 0) != (x.ReconciliationStatus == "MATCHED") {
			diffs = append(diffs, fmt.Sprintf("status %s with %d true differences", x.ReconciliationStatus, len(want)))
		}
		if len(diffs) > 0 {
			slices.Sort(diffs)
			fail("does not hold against events %s and %s: %s", x.LocalEventID, x.CounterpartyEventID, strings.Join(diffs, "; "))
		}
	}
}

// checkXRefFile checks xref.jsonl (fixtap export -xref), if the bundle has
// one: one line per VCP-XREF event, in order, each that event's block plus
// ExpectedCounterpartyHash, the named counterparty event's FIX.RawSHA256.
func (v *verifier) checkXRefFile(st *xrefState) {
	if _, ok := v.files[XRefFile]; !ok {
		return
	}
	fail := func(format string, args ...any) {
		v.fail(Failure{Layer: "xref", Check: "xref.jsonl", Detail: fmt.Sprintf(format, args...)})
	}
	b, err := fs.ReadFile(v.fsys, XRefFile)
	if err != nil {
		fail("%v", err)
		return
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) != len(st.items) {
		fail("%d lines for %d VCP-XREF events", len(lines), len(st.items))
		return
	}
	for i, l := range lines {
		var got, want map[string]any
		if err := json.Unmarshal(l, &got); err != nil {
			fail("line %d: %v", i+1, err)
			continue
		}
		json.Unmarshal(st.items[i].raw, &want)
		exp, _ := got["ExpectedCounterpartyHash"].(string)
		delete(got, "ExpectedCounterpartyHash")
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if !bytes.Equal(gb, wb) {
			v.fail(Failure{Layer: "xref", Check: "xref.jsonl", Seq: u64p(st.items[i].seq), EventID: st.items[i].id, Detail: fmt.Sprintf("line %d is not the event's VCP-XREF block", i+1)})
			continue
		}
		cpID, _ := want["CounterpartyEventID"].(string)
		if f := st.facts[cpID]; f != nil && f.rawSHA != exp {
			v.fail(Failure{Layer: "xref", Check: "xref.jsonl", Seq: u64p(st.items[i].seq), EventID: st.items[i].id,
				Detail: fmt.Sprintf("ExpectedCounterpartyHash %q, but counterparty event %s carries RawSHA256 %s", exp, cpID, f.rawSHA)})
		}
	}
}
