package xref

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// The benchmarks' stream: loadgen's day (seed 1: every ExecID and ClOrdID
// unique), the firm's copy of message k captured at base + k ms, the
// venue's 200 µs later and logged lagPairs messages later (as a slower
// drop copy would be), so that ~lagPairs entries wait for their other
// side at any time and the last 2×Deadline of matched keys (~60k at one
// pair a millisecond) are kept for duplicate detection, near MaxPending.
const lagPairs = 50

// pairStream calls emit with the 2×n events of n pairs in log order.
func pairStream(t testing.TB, n int, emit func(*chain.Entry)) {
	pairEvents(n, func(te tapEvent) { emit(te.entry(t)) })
}

// pairEvents is pairStream's events as the tap receives them (FIX bytes).
func pairEvents(n int, emit func(tapEvent)) {
	g := loadgen.NewGenerator(1)
	var venue []tapEvent
	for k := range n {
		body := g.Next()
		msgType := "8"
		if body[0] != '3' { // order copies start with 11=, ERs with 37=
			msgType = "D"
		}
		ts := base + int64(k)*int64(time.Millisecond)
		emit(tapEvent{firmSession, ts, frame("OMS", k+1, false, msgType, body)})
		venue = append(venue, tapEvent{venueSession, ts + 200*int64(time.Microsecond), frame("VENUE", k+1, false, msgType, body)})
		if len(venue) > lagPairs {
			emit(venue[0])
			venue = venue[1:]
		}
	}
	for _, v := range venue {
		emit(v)
	}
}

// heapPeak samples HeapInuse every 10 ms until stop; it returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-quit:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(quit); <-done; return peak.Load() }
}

// cpuProfile writes a CPU profile to path (if not empty) until stop.
func cpuProfile(b *testing.B, path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReconcile — the Reconciler alone over a log of b.N pairs
// (2×b.N durable events, logged beforehand), from New until every record
// is read and every outcome (one MATCHED per pair, appended to the same
// log) is durable: pairs/s, CPU per pair, the peak of HeapInuse above
// what it was before New (sampled every 10 ms: garbage not yet collected
// included) and what is left above it after a GC at the end (the state
// held: up to MaxPending keys), and the size of the last state saved. It
// runs without the busy cap (MaxBusy 100): what it measures is the
// Reconciler's capacity.
//
//	go test -run '^$' -bench Reconcile -benchtime 1000000x ./internal/xref
func BenchmarkReconcile(b *testing.B) {
	l := openLog(b, b.TempDir())
	defer l.Close()
	ctx := context.Background()
	pairStream(b, b.N, func(e *chain.Entry) {
		if err := l.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
	})
	if err := l.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	size := l.Durable()
	cfg := testConfig()
	cfg.MaxRound, cfg.SnapshotEvery, cfg.Interval = DefaultConfig().MaxRound, DefaultConfig().SnapshotEvery, DefaultConfig().Interval
	cfg.MaxBusy = 100
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := heapPeak()
	stopProfile := cpuProfile(b, os.Getenv("FIXTAP_XREF_CPUPROFILE")) // the timed part only, setup excluded
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	r, err := New(ctx, l, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for r.Watermark() < size {
		time.Sleep(time.Millisecond)
	}
	if err := l.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	b.StopTimer()
	stopProfile()
	top := peak()
	if m, _, _ := r.Totals(); m != uint64(b.N) {
		b.Fatalf("%d MATCHED of %d pairs", m, b.N)
	}
	b.ReportMetric(float64(b.N)/d.Seconds(), "pairs/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/pair")
	b.ReportMetric(float64(top-min(top, base))/(1<<20), "peak-heap-MB")
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse-min(ms.HeapInuse, base))/(1<<20), "live-heap-MB")
	if v, closer, err := l.DB().Get(keyState); err == nil {
		b.ReportMetric(float64(len(v))/(1<<20), "state-MB")
		closer.Close()
	}
	if p := os.Getenv("FIXTAP_XREF_HEAPPROFILE"); p != "" { // what the live heap is
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	if err := r.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIngest — the chain's pipelined ingest of b.N events (b.N/2
// pairs; 64 appenders queueing without waiting, as the tap does; fsync
// per group), unsigned, measured until the last event is durable, without
// and with the Reconciler running behind it (appending one outcome per
// pair to the same log) at MaxBusy 100 (no cap), 50 (the default) and 25.
//
// prebuilt appends entries built beforehand: the committer is the
// bottleneck, its queue is full, and the Reconciler's outcomes wait in it
// behind the appenders'. mapped has the appenders map each event from its
// FIX bytes first (internal/fixmap, as the tap's sessions do): ingest is
// then bound by the processor, not by the queue, and the Reconciler's
// rounds compete with it for the two cores — what MaxBusy is for.
//
// events/s and ingest-cpu-µs/event are until the last event is durable;
// with the Reconciler, lag-records is how far behind it was then,
// catch-up-s how long it took from then until every pair's outcome was
// durable, reconciled-pairs/s the rate over the whole run, and
// cpu-µs/event the whole process's CPU until then (including more of
// Pebble's background compactions the longer that takes).
//
//	go test -run '^$' -bench Ingest -benchtime 200000x ./internal/xref
//
// On shared cores, compare the variants in alternation (each its own
// process, several rounds) and take medians, as the package doc shows.
func BenchmarkIngest(b *testing.B) {
	for _, mapped := range []bool{false, true} {
		mode := "prebuilt"
		if mapped {
			mode = "mapped"
		}
		for _, busy := range []int{0, 100, 50, 25} {
			name := mode + "/no-reconciler"
			if busy > 0 {
				name = mode + "/reconciler-maxbusy=" + strconv.Itoa(busy)
			}
			b.Run(name, func(b *testing.B) { benchIngest(b, mapped, busy) })
		}
	}
}

// mappers is the number of appenders of BenchmarkIngest/mapped: sessions
// of a tap each read, map and append their own messages, and a drop-copy
// tap has a few.
const mappers = 4

// benchIngest is one BenchmarkIngest: maxBusy 0 runs no Reconciler.
func benchIngest(b *testing.B, mapped bool, maxBusy int) {
	n := max(b.N/2, 1)
	var tes []tapEvent
	var es []*chain.Entry
	pairEvents(n, func(te tapEvent) {
		if mapped {
			tes = append(tes, te)
		} else {
			es = append(es, te.entry(b))
		}
	})
	total := 2 * n
	l := openLog(b, b.TempDir())
	defer l.Close()
	ctx := context.Background()
	var r *Reconciler
	if maxBusy > 0 {
		cfg := testConfig()
		cfg.MaxRound, cfg.SnapshotEvery, cfg.Interval = DefaultConfig().MaxRound, DefaultConfig().SnapshotEvery, DefaultConfig().Interval
		cfg.MaxBusy = maxBusy
		var err error
		if r, err = New(ctx, l, cfg); err != nil {
			b.Fatal(err)
		}
		defer r.Shutdown(ctx)
	}
	var next atomic.Int64
	runtime.GC()
	stopProfile := cpuProfile(b, os.Getenv("FIXTAP_XREF_CPUPROFILE")) // until the last event is durable
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	var wg sync.WaitGroup
	appenders := 64
	if mapped {
		appenders = mappers
	}
	for range appenders {
		wg.Go(func() {
			ids := chain.NewIDGen()
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				var e *chain.Entry
				if mapped {
					var err error
					if e, err = tes[i].build(ids); err != nil {
						b.Error(err)
						return
					}
				} else {
					e = es[i]
				}
				if err := l.Append(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.WaitDurable(ctx, uint64(total)); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	stopProfile()
	b.ReportMetric(float64(total)/d.Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(total), "ingest-cpu-µs/event")
	if r != nil {
		b.ReportMetric(float64(l.Durable()-min(l.Durable(), r.Watermark())), "lag-records")
		for m, _, _ := r.Totals(); m < uint64(n); m, _, _ = r.Totals() {
			time.Sleep(time.Millisecond)
		}
		if err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)
		b.ReportMetric((all - d).Seconds(), "catch-up-s")
		b.ReportMetric(float64(n)/all.Seconds(), "reconciled-pairs/s")
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(total), "cpu-µs/event")
	b.StopTimer()
}
