package verify

import (
	"strings"
	"testing"
)

// TestCompleteness exercises the MsgSeqNum accounting of one session
// epoch (docs/vcp-profile.md §9e) on hand-made facts.
func TestCompleteness(t *testing.T) {
	got := func(ns ...int64) []msn {
		var out []msn
		for i, n := range ns {
			out = append(out, msn{n: n, seq: uint64(100 + i), id: "ev" + string(rune('a'+i))})
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		e         epochState
		failures  int
		warnings  int
		accounted int64
		namesSeq  uint64
	}{
		{name: "contiguous", e: epochState{start: 1, got: got(1, 2, 3, 4)}},
		{name: "gap", e: epochState{start: 1, got: got(1, 2, 5, 6)}, failures: 1, namesSeq: 102},
		{name: "gap filled", e: epochState{start: 1, got: got(1, 2, 5, 6), gaps: [][2]int64{{3, 5}}}, accounted: 2},
		{name: "gap partly filled", e: epochState{start: 1, got: got(1, 2, 5, 6), gaps: [][2]int64{{3, 4}}}, failures: 1, accounted: 1, namesSeq: 102},
		{name: "closed by a reset", e: epochState{start: 1, got: got(1, 2, 3), closedAt: 4}},
		{name: "closed by a reset expecting more", e: epochState{start: 1, got: got(1, 2), closedAt: 4}, failures: 1},
		{name: "epoch started by a reset at 1", e: epochState{start: 1, got: got(1, 2)}},
		{name: "missing start", e: epochState{start: 1, got: got(3, 4)}, failures: 1, namesSeq: 100},
		{name: "ahead while recovering", e: epochState{start: 1, got: append(got(1, 2), msn{n: 9, seq: 200, id: "x", ahead: true})}, warnings: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &verifier{r: &Report{}, maxF: 10}
			c := &collector{v: v}
			e := tc.e
			c.complete(epochKey{"S", 0}, &e)
			if v.r.FailureCount != tc.failures || len(v.r.Warnings) != tc.warnings {
				t.Fatalf("failures %d (want %d), warnings %v (want %d): %+v", v.r.FailureCount, tc.failures, v.r.Warnings, tc.warnings, v.r.Failures)
			}
			if len(v.r.Sessions) != 1 || v.r.Sessions[0].Accounted != tc.accounted {
				t.Fatalf("sessions %+v, want %d accounted", v.r.Sessions, tc.accounted)
			}
			if tc.failures > 0 && tc.namesSeq != 0 {
				f := v.r.Failures[0]
				if f.Seq == nil || *f.Seq != tc.namesSeq || !strings.Contains(f.Detail, "never logged") {
					t.Fatalf("failure %+v, want it to name seq %d", f, tc.namesSeq)
				}
			}
		})
	}
}
