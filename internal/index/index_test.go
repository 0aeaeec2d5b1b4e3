package index

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
)

const (
	sessA = "FIX.4.4:TAP->VENUE"
	sessB = "FIX.4.4:TAP->OTHER"
	t0    = int64(1736151323456000000) // 2025-01-06T08:15:23.456Z
)

// fixture is a small day on two sessions: order O1 in session A goes
// through a cancel/replace chain C1 → C2 → C3 and is canceled; order O2
// runs beside it; session B has an unrelated order that reuses ClOrdID C1
// and ExecID X1. The capture clock steps back once (event 8).
func fixture() (ms []msg, o1 []uint64) {
	tr := func(side ...string) []string {
		return append([]string{"55=AAPL", "54=1", "40=2", "44=10.50", "60=20250106-08:15:23.456"}, side...)
	}
	add := func(session, trace string, ts int64, fields ...string) {
		ms = append(ms, msg{session: session, trace: trace, ts: ts, fields: fields})
	}
	add(sessA, "", t0, "0")                                                                                                                                      // 0 heartbeat
	add(sessA, "T-A1", t0+1000, append([]string{"D", "11=C1", "38=100"}, tr()...)...)                                                                            // 1 order copy
	add(sessA, "T-A1", t0+2000, append([]string{"8", "37=O1", "11=C1", "17=X1", "150=0", "39=0", "38=100", "14=0", "151=100"}, tr()...)...)                      // 2 ack
	add(sessB, "T-B1", t0+3000, append([]string{"8", "37=O7", "11=C1", "17=X1", "150=0", "39=0", "38=50", "14=0", "151=50"}, tr()...)...)                        // 3 other session
	add(sessA, "T-A2", t0+4000, append([]string{"8", "37=O2", "11=C9", "17=X5", "150=0", "39=0", "38=10", "14=0", "151=10"}, tr()...)...)                        // 4 other order
	add(sessA, "T-A1", t0+5000, append([]string{"8", "37=O1", "11=C1", "17=X2", "150=F", "39=1", "38=100", "32=40", "31=10.50", "14=40", "151=60"}, tr()...)...) // 5 partial fill
	add(sessA, "T-A1", t0+6000, append([]string{"G", "37=O1", "11=C2", "41=C1", "38=200"}, tr()...)...)                                                          // 6 replace request
	add(sessA, "T-A1", t0+7000, append([]string{"8", "37=O1", "11=C2", "41=C1", "17=X3", "150=5", "39=5", "38=200", "14=40", "151=160"}, tr()...)...)            // 7 replaced
	add(sessA, "T-A1", t0+1500, append([]string{"F", "37=O1", "11=C3", "41=C2", "38=200"}, tr()...)...)                                                          // 8 cancel request; the clock stepped back
	add(sessA, "", t0+9000, "0")                                                                                                                                 // 9 heartbeat
	add(sessA, "T-A1", t0+10000, append([]string{"8", "37=O1", "11=C3", "41=C2", "17=X4", "150=4", "39=4", "38=200", "14=40", "151=0"}, tr()...)...)             // 10 canceled
	add(sessA, "T-A2", t0+11000, append([]string{"8", "37=O2", "11=C9", "17=X6", "150=F", "39=2", "38=10", "32=10", "31=10.50", "14=10", "151=0"}, tr()...)...)  // 11 O2 filled
	return ms, []uint64{1, 2, 5, 6, 7, 8, 10}
}

// checkFixture runs every lookup over a log holding fixture() at seq 0.
func checkFixture(t *testing.T, l *chain.Log) {
	t.Helper()
	ctx := context.Background()
	_, o1 := fixture()
	es := events(t, l)
	for _, id := range []string{"C1", "C2", "C3", "O1", "X1", "X2", "X3", "X4"} {
		got, err := Order(ctx, l, sessA, id)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "Order(A, "+id+")", got, o1)
	}
	// Any session: C1 and X1 also name session B's order.
	for _, id := range []string{"C1", "X1"} {
		got, err := Order(ctx, l, "", id)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "Order(any, "+id+")", got, []uint64{1, 2, 3, 5, 6, 7, 8, 10})
	}
	got, err := Order(ctx, l, sessB, "C1")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Order(B, C1)", got, []uint64{3})
	got, err = Order(ctx, l, "", "X6")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Order(any, X6)", got, []uint64{4, 11})
	got, err = Order(ctx, l, sessB, "C2")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Order(B, C2)", got, nil)

	for _, c := range []struct {
		k              Kind
		session, value string
		want           []uint64
	}{
		{ClOrdID, sessA, "C1", []uint64{1, 2, 5, 6, 7}}, // OrigClOrdID counts
		{ClOrdID, "", "C1", []uint64{1, 2, 3, 5, 6, 7}},
		{OrderID, sessA, "O1", []uint64{2, 5, 6, 7, 8, 10}},
		{ExecID, "", "X1", []uint64{2, 3}},
		{TraceID, sessA, "T-A2", []uint64{4, 11}},
		{TraceID, sessA, "T-B1", nil},
	} {
		got, err := ByKey(ctx, l, c.k, c.session, c.value)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "ByKey("+c.k.String()+", "+c.session+", "+c.value+")", got, c.want)
	}

	for _, s := range []string{sessA, sessB, "FIX.4.4:TAP->NONE"} {
		got, err := Session(ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "Session("+s+")", got, where(es, func(e *chain.Event) bool { return sessionOf(e) == s }))
	}
	names, err := Sessions(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{sessB, sessA}; !slices.Equal(names, want) {
		t.Errorf("Sessions = %q, want %q", names, want)
	}

	for _, r := range [][2]int64{{t0, t0 + 20000}, {t0 + 1000, t0 + 2000}, {t0 + 1500, t0 + 5001}, {t0 + 9000, t0 + 9000}, {0, t0}, {t0 + 11001, 1 << 62}} {
		got, err := TimeRange(ctx, l, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		want := where(es, func(e *chain.Event) bool {
			ns := mustInt(t, e.Header.TimestampInt)
			return ns >= r[0] && ns < r[1]
		})
		equal(t, "TimeRange", got, want)
	}
	// The clock step: [t0+1500, t0+2000) holds seq 8, between 1 and 2.
	got, err = TimeRange(ctx, l, t0+1000, t0+2001)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "TimeRange over the step", got, []uint64{1, 2, 8})
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("TimestampInt %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestLookupsComplete: the lookups give the same answers with no index,
// with the index covering a prefix of the log (the indexer lagging; the
// rest is the scanned tail) and with everything indexed.
func TestLookupsComplete(t *testing.T) {
	ms, _ := fixture()
	for _, split := range []int{0, 1, 4, 7, 9, len(ms)} {
		t.Run("", func(t *testing.T) {
			l := openLog(t, t.TempDir())
			defer closeLog(t, l)
			appendAll(t, l, ms[:split])
			if split > 0 {
				ix := startIndexer(t, l, testConfig())
				shutdown(t, ix)
			}
			appendAll(t, l, ms[split:])
			if w, err := Watermark(l); err != nil || w != uint64(split) {
				t.Fatalf("Watermark = %d, %v; want %d", w, err, split)
			}
			checkFixture(t, l)
			ix := startIndexer(t, l, testConfig())
			shutdown(t, ix)
			if w, _ := Watermark(l); w != uint64(len(ms)) {
				t.Fatalf("Watermark = %d after catching up, want %d", w, len(ms))
			}
			checkFixture(t, l)
		})
	}
}

// TestCatchUpAfterRestart: a new Indexer resumes from the watermark the
// last one wrote (surviving a close and reopen of the log) and follows new
// events as they become durable.
func TestCatchUpAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ms, o1 := fixture()
	l := openLog(t, dir)
	appendAll(t, l, ms[:6])
	ix := startIndexer(t, l, testConfig())
	appendAll(t, l, ms[6:8]) // followed while running
	waitIndexed(t, ix, 8)
	shutdown(t, ix)
	closeLog(t, l)

	l = openLog(t, dir)
	defer closeLog(t, l)
	if w, err := Watermark(l); err != nil || w != 8 {
		t.Fatalf("Watermark after reopen = %d, %v; want 8", w, err)
	}
	ix, err := New(context.Background(), l, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if w := ix.Watermark(); w != 8 {
		t.Fatalf("new Indexer starts at %d, want the stored 8", w)
	}
	appendAll(t, l, ms[8:])
	waitIndexed(t, ix, uint64(len(ms)))
	shutdown(t, ix)
	got, err := Order(context.Background(), l, sessA, "C3")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Order(A, C3)", got, o1)
	checkFixture(t, l)
}

// TestRebuild: an index of another format, or a corrupt watermark, is
// ignored by lookups and rebuilt from seq 0 by the Indexer.
func TestRebuild(t *testing.T) {
	for name, key := range map[string][2][]byte{
		"format":    {keyFormat, []byte("fixtap-index/0")},
		"watermark": {keyWatermark, []byte{1, 2, 3}},
	} {
		t.Run(name, func(t *testing.T) {
			ms, _ := fixture()
			l := openLog(t, t.TempDir())
			defer closeLog(t, l)
			appendAll(t, l, ms)
			shutdown(t, startIndexer(t, l, testConfig()))
			// A stray key of the old index that must not survive.
			stray := appendValueKey(nil, ClOrdID, "C1", sessA, 11)
			if err := l.DB().Set(stray, nil, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := l.DB().Set(key[0], key[1], pebble.Sync); err != nil {
				t.Fatal(err)
			}
			w, err := Watermark(l)
			if name == "watermark" {
				if !errors.Is(err, ErrCorruptIndex) {
					t.Fatalf("Watermark: %v, want ErrCorruptIndex", err)
				}
			} else if err != nil || w != 0 {
				t.Fatalf("Watermark = %d, %v; want 0 (another format is no index)", w, err)
			}
			if name == "format" {
				checkFixture(t, l) // from the log alone
			}
			shutdown(t, startIndexer(t, l, testConfig()))
			checkFixture(t, l)
			got, err := ByKey(context.Background(), l, ClOrdID, sessA, "C1")
			if err != nil || slices.Contains(got, 11) {
				t.Fatalf("stray key survived the rebuild: %v, %v", got, err)
			}
		})
	}
}

// TestLookupsWhileIndexing: appends, the Indexer and lookups run at once;
// every answer is exact for the events durable when it was asked, and holds
// nothing that does not match.
func TestLookupsWhileIndexing(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer closeLog(t, l)
	cfg := testConfig()
	cfg.MaxRound = 3
	cfg.Interval = 0
	ix, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, ix)
	ms, _ := fixture()
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 30 {
			for i, m := range ms {
				if err := l.Append(ctx, entry(t, m, i+1)); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
			if err := l.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		default:
		}
		d := l.Durable()
		got, err := ByKey(ctx, l, ClOrdID, sessA, "C2")
		if err != nil {
			t.Fatal(err)
		}
		// Seqs of C2 in the fixture repeated every len(ms) events.
		var want []uint64
		for s := uint64(0); s < d; s++ {
			if i := s % uint64(len(ms)); i == 6 || i == 7 || i == 8 || i == 10 {
				want = append(want, s)
			}
		}
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Fatalf("ByKey(C2) at durable %d = %v, want %v first", d, got, want)
		}
		for _, s := range got[len(want):] {
			if i := s % uint64(len(ms)); i != 6 && i != 7 && i != 8 && i != 10 {
				t.Fatalf("ByKey(C2) holds seq %d", s)
			}
		}
	}
	waitIndexed(t, ix, l.Durable())
}

// TestShutdown: Shutdown returns promptly while the Indexer waits for the
// log, is idempotent, ends with New's ctx, and leaves the log usable.
func TestShutdown(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer closeLog(t, l)
	cfg := testConfig()
	cfg.Interval = time.Minute
	ix, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := fixture()
	appendAll(t, l, ms[:1])
	time.Sleep(10 * time.Millisecond) // the Indexer is now in its Interval wait
	start := time.Now()
	shutdown(t, ix)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	shutdown(t, ix) // again: nil

	ctx, cancel := context.WithCancel(context.Background())
	ix, err = New(ctx, l, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	shutdown(t, ix)

	// Shutdown's ctx bounds the wait.
	ix, err = New(context.Background(), l, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ended, stop := context.WithCancel(context.Background())
	stop()
	if err := ix.Shutdown(ended); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown(ended ctx) = %v", err)
	}
	shutdown(t, ix)
	appendAll(t, l, ms[1:])
	checkFixture(t, l)
}

func TestQueryErrors(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer closeLog(t, l)
	ctx := context.Background()
	for name, f := range map[string]func() error{
		"Order":     func() error { _, err := Order(ctx, l, sessA, ""); return err },
		"ByKey":     func() error { _, err := ByKey(ctx, l, Kind('z'), "", "C1"); return err },
		"Session":   func() error { _, err := Session(ctx, l, ""); return err },
		"TimeRange": func() error { _, err := TimeRange(ctx, l, 2, 1); return err },
	} {
		var qe *QueryError
		if err := f(); !errors.As(err, &qe) || !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: %v, want a *QueryError", name, err)
		}
	}
	if err := (Config{MaxRound: 0}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Validate(MaxRound 0) = %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}
