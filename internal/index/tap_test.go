package index

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/tap"
)

// testClock is the tap's clock here: the wall time, marked UNRELIABLE.
type testClock struct{}

func (testClock) Stamp() (int64, chain.ClockSyncStatus, *chain.Clock) {
	return time.Now().UnixNano(), chain.Unreliable, &chain.Clock{Source: "SYSTEM", MaxErrorNs: ""}
}

// TestTapEndToEnd: loadgen streams a trading day (acks, fills, cancels,
// replace chains, rejects, busts, order copies) over FIX to the real tap,
// which writes the log while the Indexer runs behind it. Then every order's
// lifecycle — grouped independently, by following ClOrdID, OrigClOrdID and
// OrderID links through the decoded events — is what Order returns from
// each of its identifiers, with the index lagging and caught up.
func TestTapEndToEnd(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer closeLog(t, l)
	mc := fixmap.DefaultConfig()
	mc.AccountSecret = []byte("fixtap-index-test-secret-0001")
	tp, err := tap.New(tap.Config{Log: l, Clock: testClock{}, Mapper: mc, VenueID: "XTST", Logger: quiet(),
		Policy: chain.PolicyIdentification{Version: "1.1", PolicyID: "test", ConformanceTier: "SILVER",
			RegistrationPolicy: chain.RegistrationPolicy{Issuer: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	qs, err := quickfix.ParseSettings(strings.NewReader(fmt.Sprintf(`
[DEFAULT]
SocketAcceptPort=%d
SocketAcceptHost=127.0.0.1
SenderCompID=TAP
TargetCompID=BROKER
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00
PersistMessages=N
ValidateFieldsHaveValues=N
ValidateFieldsOutOfOrder=N
CheckLatency=N
UseDataDictionary=N
[SESSION]
BeginString=FIX.4.4
`, port)))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := quickfix.NewAcceptor(tp, tp.Stores(), qs, tp.Logs())
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Start(); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	cfg := testConfig()
	cfg.MaxRound = 256
	ix, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Stop the Indexer a third of the way in: the lookups must then scan
	// the rest of the log.
	stopped := make(chan error, 1)
	go func() {
		for ix.Watermark() < n/3 {
			time.Sleep(time.Millisecond)
		}
		stopped <- ix.Shutdown(context.Background())
	}()
	st, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP",
		Count: n, ResetSeqNum: true, Seed: 11, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	acc.Stop() // the Logout is logged
	tp.Close()
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	es := events(t, l)
	if got := len(where(es, func(e *chain.Event) bool { return e.Payload.Trade != nil })); got != st.Sent {
		t.Fatalf("%d trade events for %d messages sent", got, st.Sent)
	}
	session := es[len(es)-1].Payload.FIX.SessionID

	// The reference: orders as connected components of identifiers.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	union := func(a, b string) {
		if a != "" && b != "" {
			parent[find("id:"+a)] = find("id:" + b)
		}
	}
	for _, e := range es {
		if tr := e.Payload.Trade; tr != nil {
			union(tr.ClOrdID, tr.ClOrdID)
			union(tr.ClOrdID, tr.OrigClOrdID)
			union(tr.ClOrdID, tr.OrderID)
			union(tr.OrderID, tr.OrderID)
		}
	}
	lifecycle := map[string][]uint64{} // component → seqs
	idsOf := map[string][]string{}     // component → every identifier naming it
	for i, e := range es {
		tr := e.Payload.Trade
		if tr == nil {
			continue
		}
		c := find("id:" + tr.ClOrdID)
		if tr.ClOrdID == "" {
			c = find("id:" + tr.OrderID)
		}
		lifecycle[c] = append(lifecycle[c], uint64(i))
		for _, id := range []string{tr.ClOrdID, tr.OrigClOrdID, tr.OrderID, tr.ExecID} {
			if id != "" && !slices.Contains(idsOf[c], id) {
				idsOf[c] = append(idsOf[c], id)
			}
		}
	}
	replaced := map[string]bool{}
	for _, e := range es {
		if tr := e.Payload.Trade; tr != nil && tr.OrigClOrdID != "" {
			replaced[find("id:"+tr.ClOrdID)] = true
		}
	}
	if len(lifecycle) < 200 || len(replaced) < 50 {
		t.Fatalf("%d orders, %d replaced: not a realistic day", len(lifecycle), len(replaced))
	}

	check := func(stage string, every int) {
		i := 0
		for c, ids := range idsOf {
			i++
			if i%every != 0 {
				continue
			}
			for _, id := range ids {
				got, err := Order(context.Background(), l, session, id)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, lifecycle[c]) {
					t.Fatalf("%s: Order(%s) = %v, want %v (ids %v)", stage, id, got, lifecycle[c], ids)
				}
			}
		}
		got, err := Session(context.Background(), l, session)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, stage+": Session", got, where(es, func(e *chain.Event) bool { return sessionOf(e) == session }))
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	w, err := Watermark(l)
	if err != nil || w >= uint64(len(es)) {
		t.Fatalf("Watermark = %d, %v; want the Indexer stopped before the end (%d)", w, err, len(es))
	}
	t.Logf("%d events (%d sent, %d orders, %d replaced); indexer stopped at %d", len(es), st.Sent, len(lifecycle), len(replaced), w)
	check("lagging", 40)
	cfg.MaxRound = 4096
	shutdown(t, startIndexer(t, l, cfg))
	check("caught up", 1)
}
