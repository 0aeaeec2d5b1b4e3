package seal

import (
	"context"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

const benchLeaves = 1 << 20

// benchTree stores a tree of 1M synthetic leaves in a fresh Pebble DB,
// compacts it, and returns a Sealer reading it and how long storing took.
func benchTree(b *testing.B) (*Sealer, time.Duration) {
	b.Helper()
	leaves := leafHashes(syntheticEventHashes(benchLeaves))
	db := openDB(b)
	t0 := time.Now()
	s := storeLeaves(b, db, 0, leaves, 16384)
	build := time.Since(t0)
	// Settle the LSM (a long-lived log's old tree hashes sit compacted in
	// the lower levels), so background compactions do not run during the
	// measurement.
	if err := db.Compact(context.Background(), []byte{'t'}, []byte{'t' + 1}, false); err != nil {
		b.Fatal(err)
	}
	return s, build
}

// BenchmarkTreeBuild1M: hashing and storing the tree of 1M leaves, in
// 16384-leaf Pebble batches as the sealer does (one op = 1M leaves).
func BenchmarkTreeBuild1M(b *testing.B) {
	leaves := leafHashes(syntheticEventHashes(benchLeaves))
	for b.Loop() {
		b.StopTimer()
		db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: discardLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		storeLeaves(b, db, 0, leaves, 16384)
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkRoot1M: the root of a 1M-leaf tree from the stored hashes in
// Pebble (RFC 6962 MTH via tlog.TreeHash: O(log n) point reads).
func BenchmarkRoot1M(b *testing.B) {
	s, build := benchTree(b)
	i := uint64(0)
	for b.Loop() {
		if _, err := s.TreeHash(benchLeaves - i%1024); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// After the loop: b.Loop's first call discards metrics reported before it.
	b.ReportMetric(build.Seconds(), "build-s")
}

// BenchmarkInclusionProof: an inclusion proof of a random leaf in a random
// tree size ≤ 1M, from Pebble; p50/p99 of the single-proof latency.
func BenchmarkInclusionProof(b *testing.B) {
	s, _ := benchTree(b)
	rng := rand.New(rand.NewPCG(3, 4))
	var lat []time.Duration
	for b.Loop() {
		size := 1 + rng.Uint64N(benchLeaves)
		seq := rng.Uint64N(size)
		t0 := time.Now()
		if _, err := s.InclusionProof(seq, size); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(p(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(p(0.99).Microseconds()), "p99-µs")
}

// BenchmarkCheckpointLag: events are appended to a real chain.Log at a
// paced rate while the sealer runs with its default 500ms interval; each
// sample is the time from observing the durable watermark at d to a
// signed checkpoint covering d. One op = one sample.
func BenchmarkCheckpointLag(b *testing.B) {
	const rate = 50_000 // events/s offered
	l := openLog(b, b.TempDir())
	defer l.Close()
	cfg := DefaultConfig(testOrigin, testKey(b))
	cfg.Logger = quietLogger()
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var appended int
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-ctx.Done():
				appended = i
				return
			case <-tick.C:
			}
			// Paced by elapsed time, not by ticks: a late tick catches up.
			for target := int(time.Since(start).Seconds() * rate); i < target; i++ {
				if err := l.Append(ctx, chaintest.Entry(i)); err != nil {
					appended = i
					return
				}
			}
		}
	}()
	var lat []time.Duration
	for b.Loop() {
		time.Sleep(37 * time.Millisecond)
		d := l.Durable()
		start := time.Now()
		if _, err := s.WaitCheckpoint(context.Background(), d); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	elapsed := time.Since(start)
	stop()
	wg.Wait()
	b.ReportMetric(float64(appended)/elapsed.Seconds(), "events/s")
	reportPercentiles(b, lat)
}
