package tap

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// TestStats: a drop copy with a connection drop and a resend gap moves the
// session's counters: every message counted once, the PossDup resends and
// the gap seen, the last MsgSeqNums in and out, and the logon state.
func TestStats(t *testing.T) {
	port := freePort(t)
	h := startTap(t, t.TempDir(), port)
	defer h.stop(t)
	if st := h.tap.Stats(); len(st) != 1 || st[0].LoggedOn || st[0].Messages != 0 {
		t.Fatalf("before any Logon: %+v", st)
	}
	const n = 2000
	st, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP",
		Count: n, DisconnectAfter: 800, Offline: 100, ReconnectDelay: 100 * time.Millisecond,
		ResetSeqNum: true, Seed: 3, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	last := int64(st.NextSeq - 1)
	waitEvents(t, h.log, func(es []*chain.Event) bool {
		for _, e := range es {
			if f := e.Payload.FIX; f != nil && f.MsgSeqNum == last {
				return true
			}
		}
		return false
	})
	var s SessionStats
	for deadline := time.Now().Add(10 * time.Second); ; {
		s = h.tap.Stats()[0]
		if (s.LastMsgSeqNumIn == last && !s.LoggedOn) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.Name != "FIX.4.4:TAP->BROKER" {
		t.Errorf("Name %q", s.Name)
	}
	// Every MsgSeqNum of the last epoch once (Logons and Logout included),
	// plus whatever the first connection's epoch recorded.
	if s.Messages < uint64(n) || s.LastMsgSeqNumIn != last {
		t.Errorf("Messages %d (≥ %d application messages sent), LastMsgSeqNumIn %d (want %d)", s.Messages, n, s.LastMsgSeqNumIn, last)
	}
	if s.Resends < uint64(st.Resent) || s.Gaps == 0 || s.Gaps > uint64(st.Connections) {
		t.Errorf("Resends %d (loadgen resent %d), Gaps %d over %d connections", s.Resends, st.Resent, s.Gaps, st.Connections)
	}
	if s.LastMsgSeqNumOut < 2 || s.LoggedOn || s.Rejects != 0 {
		t.Errorf("LastMsgSeqNumOut %d (the tap's Logon, ResendRequest, Logout), LoggedOn %v after the Logout, Rejects %d", s.LastMsgSeqNumOut, s.LoggedOn, s.Rejects)
	}
	t.Logf("loadgen %+v; tap %+v", st, s)
}
