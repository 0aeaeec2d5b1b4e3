package verify_test

import (
	"crypto/ed25519"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/fixtap/fixtap/internal/verify"
)

// benchEvents is the bundle size of BenchmarkVerify: 100k by default so
// that the test script's one pass stays quick; set
// FIXTAP_VERIFY_BENCH_EVENTS=1000000 for the 1M-event figure.
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("FIXTAP_VERIFY_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// TestMain removes the synthetic bundle (1.3 GB at 1M events).
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var (
	benchOnce sync.Once
	benchDir  string
	benchPub  ed25519.PublicKey
)

// synthBundle writes the benchmark's bundle of n events once.
func synthBundle(b *testing.B, n int) string {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fixtap-verify-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchPub = writeSynth(b, dir, n, synthConfig{}).pub
		benchDir = dir
	})
	return benchDir
}

// BenchmarkVerify verifies a full bundle with and without signatures and
// reports events/s (all cores) and events/s per core.
//
//	FIXTAP_VERIFY_BENCH_EVENTS=1000000 go test -run '^$' -bench BenchmarkVerify -benchtime 3x ./internal/verify
func BenchmarkVerify(b *testing.B) {
	n := benchEvents()
	dir := synthBundle(b, n)
	for _, mode := range []string{"signatures", "no-signatures", "hashes-chain-tree"} {
		b.Run(mode, func(b *testing.B) {
			opts := verify.Options{EventKeys: []ed25519.PublicKey{benchPub}, SkipSignatures: mode != "signatures", HashesOnly: mode == "hashes-chain-tree"}
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				rep, err := verify.Verify(os.DirFS(dir), opts)
				if rep == nil || rep.FailureCount != 0 || rep.Events != uint64(n) {
					b.Fatalf("verify: %v %+v", err, rep)
				}
			}
			evs := float64(n) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(evs, "events/s")
			b.ReportMetric(evs/float64(maxProcs()), "events/s/core")
			// CPU time per event: robust when other work shares the cores.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n*b.N), "cpu-µs/event")
		})
	}
}
