package xref

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/xref/xreftest"
)

const scenarioSize = 3000

// TestScenario: two correlated drop-copy streams of the same orders (the
// firm's and the venue's copies of loadgen's day) with injected faults —
// exactly those are flagged, with the right status and details, and
// everything else is MATCHED.
func TestScenario(t *testing.T) {
	firm, venue, f, end := scenario(t, scenarioSize)
	l := openLog(t, t.TempDir())
	defer l.Close()
	appendAll(t, l, append(merge(firm, venue), end))
	r, err := New(context.Background(), l, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	caughtUp(t, l, r)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkScenario(t, outcomes(t, l), firm, venue, f)
}

// checkScenario checks the outcomes of scenario(…) against its faults
// (xreftest.Check).
func checkScenario(t *testing.T, got []outcome, firm, venue []tapEvent, f xreftest.Faults) {
	t.Helper()
	xs := make([]chain.XRef, len(got))
	for i, o := range got {
		xs[i] = o.x
	}
	if err := xreftest.Check(xs, xreftest.Expect{Local: firmSession, Counterparty: venueSession, ToleranceMs: 1000, DeadlineMs: 30000, VenueCopies: len(venue)}); err != nil {
		t.Errorf("faults %+v:\n%v", f, err)
	}
}

// TestRestart: the reconciler stopped hard (no state saved) or cleanly at
// several points, over a log that grows meanwhile, writes the same
// outcomes as an uninterrupted run, none twice — also when each restart
// finds its saved state in format 1 (JSON), as an earlier version wrote it.
func TestRestart(t *testing.T) {
	// Saves every 500 records, or never but at Shutdown: the first hard
	// stop then comes before any periodic save.
	for _, every := range []int{500, 1 << 20} {
		for _, v1 := range []bool{false, true} {
			name := strconv.Itoa(every)
			if v1 {
				name += "/format1"
			}
			t.Run(name, func(t *testing.T) { testRestart(t, every, v1) })
		}
	}
}

func testRestart(t *testing.T, snapshotEvery int, asV1 bool) {
	firm, venue, f, end := scenario(t, scenarioSize)
	all := append(merge(firm, venue), end)
	l := openLog(t, t.TempDir())
	defer l.Close()
	cuts := []int{len(all) / 5, len(all) / 2, 3 * len(all) / 4, len(all)}
	from := 0
	for i, cut := range cuts {
		appendAll(t, l, all[from:cut])
		from = cut
		if asV1 && i > 0 {
			rewriteStateV1(t, l)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cfg := testConfig()
		cfg.SnapshotEvery = snapshotEvery
		r, err := New(ctx, l, cfg)
		if err != nil {
			t.Fatal(err)
		}
		caughtUp(t, l, r)
		if i%2 == 0 {
			cancel() // a hard stop: nothing saved since the last periodic save
			<-r.done
		} else if err := r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	got := outcomes(t, l)
	checkScenario(t, got, firm, venue, f)
}

// TestShutdownCatchesUp: Shutdown reconciles what the log holds before
// it stops (serve calls it after the sessions stop and before the final
// checkpoint, with 5 s), without the busy cap's rests; with its ctx already
// ended it stops at once, saves its state, and the next start finishes the
// job — no outcome lost or twice.
func TestShutdownCatchesUp(t *testing.T) {
	firm, venue, f, end := scenario(t, scenarioSize)
	all := append(merge(firm, venue), end)
	for _, expired := range []bool{false, true} {
		l := openLog(t, t.TempDir())
		appendAll(t, l, all)
		size := l.Durable()
		cfg := testConfig()
		cfg.Interval = time.Minute // no progress but Shutdown's
		// Rounds of 64 records at 1 % busy: ~150 rounds, each resting 99×
		// its own time — well over the 10 s below (a Shutdown that kept
		// resting failed here) — unless Shutdown's catch-up skips the
		// rests (~0.2 s).
		cfg.MaxBusy = 1
		r, err := New(context.Background(), l, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if expired {
			cancel()
		}
		if err := r.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if !expired && ctx.Err() != nil {
			t.Fatalf("Shutdown's catch-up took its whole 10 s")
		}
		cancel()
		if expired {
			if r.Watermark() >= size {
				t.Logf("the reconciler caught up before Shutdown's ctx was seen")
			}
			r, err = New(context.Background(), l, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			caughtUp(t, l, r)
			if err := r.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		} else if r.Watermark() < size {
			t.Fatalf("Shutdown returned with the reconciler at %d of %d records", r.Watermark(), size)
		}
		checkScenario(t, outcomes(t, l), firm, venue, f)
		l.Close()
	}
}

// records turns tap events into log records without a log (for the
// engine alone): the EventHash stands in as SHA-256 of the raw bytes.
func records(t testing.TB, evs []tapEvent) []*chain.Record {
	var out []*chain.Record
	for i, te := range evs {
		e := te.entry(t)
		h, err := chain.AppendCanonical(nil, &e.Header)
		if err != nil {
			t.Fatal(err)
		}
		p, err := chain.AppendCanonical(nil, &e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &chain.Record{Seq: uint64(i), Hash: sha256.Sum256(te.raw), Header: h, Payload: p})
	}
	return out
}

// runEngine feeds recs through a fresh engine and returns the outcomes'
// signatures, sorted.
func runEngine(t testing.TB, recs []*chain.Record) []string {
	cfg := testConfig()
	en := newEngine(cfg.Groups, cfg.MaxPending)
	rd := newReader(cfg.Groups)
	var out []string
	var in input
	for _, rec := range recs {
		if err := rd.read(rec, &in); err != nil {
			t.Fatal(err)
		}
		en.step(&in, func(_ int, x *chain.XRef, _, _ string) {
			out = append(out, sigOf(x))
		})
	}
	slices.Sort(out)
	return out
}

// TestInterleavings: for random interleavings of the two streams (each in
// its own order, as each session delivers it), the multiset of outcomes
// is the same.
func TestInterleavings(t *testing.T) {
	firm, venue, _, end := scenario(t, 1200)
	fr, vr := records(t, firm), records(t, venue)
	er := records(t, []tapEvent{end})[0]
	want := runEngine(t, append(interleave(rand.New(rand.NewPCG(0, 0)), fr, vr, 0), er))
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 1))
		got := runEngine(t, append(interleave(rng, fr, vr, int(seed%3)), er))
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: outcomes differ (%d vs %d)", seed, len(got), len(want))
		}
	}
}

// FuzzInterleavings is TestInterleavings with the fuzzer choosing.
func FuzzInterleavings(f *testing.F) {
	firm, venue, _, end := scenario(f, 400)
	fr, vr := records(f, firm), records(f, venue)
	er := records(f, []tapEvent{end})[0]
	want := runEngine(f, append(interleave(rand.New(rand.NewPCG(0, 0)), fr, vr, 0), er))
	f.Add(uint64(1), uint8(0))
	f.Add(uint64(2), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, mode uint8) {
		got := runEngine(t, append(interleave(rand.New(rand.NewPCG(seed, 7)), fr, vr, int(mode%3)), er))
		if !slices.Equal(got, want) {
			t.Fatalf("outcomes differ")
		}
	})
}

// interleave merges a and b keeping each one's order: mode 0 by fair
// coin, 1 in runs of up to 200 from one side, 2 all of a then all of b.
func interleave(rng *rand.Rand, a, b []*chain.Record, mode int) []*chain.Record {
	out := make([]*chain.Record, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		fromA := j == len(b) || (i < len(a) && rng.IntN(2) == 0)
		n := 1
		switch mode {
		case 1:
			n = 1 + rng.IntN(200)
		case 2:
			fromA, n = i < len(a), len(a)+len(b)
		}
		for ; n > 0; n-- {
			if fromA && i < len(a) {
				out = append(out, a[i])
				i++
			} else if !fromA && j < len(b) {
				out = append(out, b[j])
				j++
			}
		}
	}
	for k, r := range out {
		c := *r
		c.Seq = uint64(k)
		out[k] = &c
	}
	return out
}

// TestBusyRest: the rest after a round keeps rounds at MaxBusy percent of
// the time.
func TestBusyRest(t *testing.T) {
	for _, c := range []struct {
		d       time.Duration
		maxBusy int
		want    time.Duration
	}{
		{10 * time.Millisecond, 100, 0},
		{10 * time.Millisecond, 50, 10 * time.Millisecond},
		{10 * time.Millisecond, 25, 30 * time.Millisecond},
		{10 * time.Millisecond, 1, 990 * time.Millisecond},
		{0, 1, 0},
	} {
		if got := busyRest(c.d, c.maxBusy); got != c.want {
			t.Errorf("busyRest(%v, %d) = %v, want %v", c.d, c.maxBusy, got, c.want)
		}
	}
}
