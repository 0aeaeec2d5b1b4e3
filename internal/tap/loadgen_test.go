package tap

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// TestLoadgenGapResend: loadgen streams a trading day, drops the connection
// without a Logout, "sends" messages into the gap while away, and comes
// back; the tap asks for the gap, loadgen resends it with PossDup=Y, and the
// log ends with every MsgSeqNum exactly once.
func TestLoadgenGapResend(t *testing.T) {
	port := freePort(t)
	h := startTap(t, t.TempDir(), port)
	defer h.stop(t)
	const n = 3000
	st, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP",
		Count: n, DisconnectAfter: 1200, Offline: 150, ReconnectDelay: 100 * time.Millisecond,
		ResetSeqNum: true, Seed: 3, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Resent < 150 || st.Connections < 2 {
		t.Fatalf("loadgen stats %+v: want ≥ 150 resent over ≥ 2 connections", st)
	}
	// Wait for the last message and for the tap to have noticed every
	// drop: the last drop's ERR_CONN may land after the last message.
	es := waitEvents(t, h.log, func(es []*chain.Event) bool {
		last, drops := false, 0
		for _, e := range es {
			if f := e.Payload.FIX; f != nil && f.MsgSeqNum == int64(st.NextSeq-1) {
				last = true
			}
			if e.Header.EventType == chain.ERR && e.Payload.ErrorDetails.ErrorCode == "ERR_CONN" && e.Payload.FIX == nil {
				drops++
			}
		}
		return last && drops >= st.Connections-1
	})
	seen := map[int64]int{}
	var app, errs int
	for _, e := range es {
		if f := e.Payload.FIX; f != nil && f.MsgType != "" {
			seen[f.MsgSeqNum]++
			if f.MsgType == "8" || f.MsgType == "D" {
				app++
			}
		}
		if e.Header.EventType == chain.ERR && e.Payload.ErrorDetails.ErrorCode == "ERR_CONN" && e.Payload.FIX == nil {
			errs++ // a drop the tap noticed itself (a Logout message is ERR_CONN too, with its FIX block)
		}
	}
	for s := int64(1); s < int64(st.NextSeq); s++ {
		if seen[s] != 1 {
			for _, e := range es {
				if f := e.Payload.FIX; f != nil && f.MsgSeqNum > 1198 && f.MsgSeqNum < 1206 || e.Header.EventType == chain.ERR {
					var ed chain.ErrorDetails
					if e.Payload.ErrorDetails != nil {
						ed = *e.Payload.ErrorDetails
					}
					var fx chain.FIX
					if f != nil {
						fx = *f
					}
					t.Logf("%s %s seq %d possdup %v %s %s", e.Header.EventType, fx.MsgType, fx.MsgSeqNum, fx.PossDupFlag, ed.ErrorCode, ed.ErrorMessage)
				}
			}
			t.Logf("stats %+v", st)
			for ep, ss := range inbound(es) {
				t.Logf("epoch %d: %d msgs, first %v last %v", ep, len(ss), ss[:min(5, len(ss))], ss[max(0, len(ss)-3):])
			}
			for _, e := range es {
				if e.Payload.TapSession != nil {
					t.Logf("reset %+v", *e.Payload.TapSession)
				}
			}
			t.Fatalf("MsgSeqNum %d logged %d times, want once", s, seen[s])
		}
	}
	if app != n {
		t.Fatalf("%d application events, want %d", app, n)
	}
	if errs != st.Connections-1 {
		t.Fatalf("%d ERR_CONN events for %d drops without Logout", errs, st.Connections-1)
	}
	t.Logf("loadgen %+v; %d events", st, len(es))
}

// TestBeginStrings: the same drop copy over FIX.4.2 and FIXT.1.1 (FIX 5.0SP2
// application messages): every MsgSeqNum logged once, every message mapped.
func TestBeginStrings(t *testing.T) {
	for _, c := range []struct{ begin, session string }{
		{"FIX.4.2", "BeginString=FIX.4.2"},
		{"FIXT.1.1", "BeginString=FIXT.1.1\nDefaultApplVerID=9"},
	} {
		t.Run(c.begin, func(t *testing.T) {
			port := freePort(t)
			h := startTapSession(t, t.TempDir(), port, c.session)
			defer h.stop(t)
			const n = 500
			st, err := loadgen.Run(context.Background(), loadgen.Config{
				Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: c.begin, SenderCompID: "BROKER", TargetCompID: "TAP",
				Count: n, ResetSeqNum: true, Seed: 5, Now: time.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			es := waitEvents(t, h.log, func(es []*chain.Event) bool {
				for _, e := range es {
					if f := e.Payload.FIX; f != nil && f.MsgSeqNum == int64(st.NextSeq-1) {
						return true
					}
				}
				return false
			})
			seen := map[int64]int{}
			app := 0
			for _, e := range es {
				f := e.Payload.FIX
				if f == nil || f.MsgType == "" {
					continue
				}
				if f.BeginString != c.begin {
					t.Fatalf("event BeginString %q", f.BeginString)
				}
				seen[f.MsgSeqNum]++
				if f.MsgType == "8" || f.MsgType == "D" {
					app++
					if e.Header.EventType == chain.ERR {
						t.Fatalf("an application message became ERR: %+v", e.Payload.ErrorDetails)
					}
				}
			}
			for s := int64(1); s < int64(st.NextSeq); s++ {
				if seen[s] != 1 {
					t.Fatalf("MsgSeqNum %d logged %d times", s, seen[s])
				}
			}
			if app != n {
				t.Fatalf("%d application events, want %d", app, n)
			}
		})
	}
}
