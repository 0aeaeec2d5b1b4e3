package witness

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/clock"
)

// reportLatency reports the p50, p99 and max of ds as benchmark metrics.
func reportLatency(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	b.ReportMetric(float64(q(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(q(0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds()), "max-µs")
}

// BenchmarkAddCheckpoint times add-checkpoint round trips to a real
// litewitness on loopback (keep-alive HTTP, SQLite, ssh-agent signing):
// each iteration submits the checkpoint of a tree one leaf larger, with
// its consistency proof. Run with -benchtime=300x for stable quantiles.
func BenchmarkAddCheckpoint(b *testing.B) {
	key := testKey(b, "bench")
	w := startWitness(b, "witness1.fixtap.test", key)
	tp := openTap(b, "", key, 0)
	tp.appendN(b, b.N+1)
	v := mustVerifier(b, w.VerifierKey)
	cl := &Client{URL: w.URL, HTTP: newHTTPClient()}
	ctx := context.Background()
	// Checkpoints of sizes 1 … N+1, signed ahead of time.
	notes := make([][]byte, b.N+2)
	for size := 1; size <= b.N+1; size++ {
		root, err := tp.seal.TreeHash(uint64(size))
		if err != nil {
			b.Fatal(err)
		}
		if notes[size], err = note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, root)}, key.Signer); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := cl.AddCheckpoint(ctx, 0, nil, notes[1]); err != nil {
		b.Fatal(err)
	}
	rtts := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		old, size := uint64(i+1), uint64(i+2)
		proof, err := tp.seal.ConsistencyProof(old, size)
		if err != nil {
			b.Fatal(err)
		}
		t0 := clock.Wall()
		lines, err := cl.AddCheckpoint(ctx, old, proof, notes[size])
		rtts = append(rtts, clock.Wall().Sub(t0))
		if err != nil {
			b.Fatalf("size %d: %v", size, err)
		}
		if _, _, err := Accept(notes[size], lines, v); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportLatency(b, rtts)
}

// BenchmarkCosignerLatency times, with two real litewitnesses and a 2-of-2
// policy, the delay from the sealer's checkpoint to its cosigned
// checkpoint being stored and published by the Cosigner. One event per
// iteration; the sealer cuts every 20ms.
func BenchmarkCosignerLatency(b *testing.B) {
	key := testKey(b, "bench-cosigner")
	w1, w2 := startWitness(b, "witness1.fixtap.test", key), startWitness(b, "witness2.fixtap.test", key)
	tp := openTap(b, "", key, 0)
	ev := newEvents()
	cfg := ev.config(key)
	cfg.HTTP = newHTTPClient()
	c := startCosigner(b, tp, policyFor(b, "group g all w1 w2\nquorum g\n", w1, w2), cfg)
	waitCosigned(b, c, tp.appendN(b, 1).Size, 10*time.Second)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		cp := tp.appendN(b, 1)
		t0 := clock.Wall()
		waitCosigned(b, c, cp.Size, 10*time.Second)
		ds = append(ds, clock.Wall().Sub(t0))
	}
	b.StopTimer()
	reportLatency(b, ds)
	ev.mu.Lock()
	rtts := slices.Clone(ev.rtts)
	ev.mu.Unlock()
	slices.Sort(rtts)
	f, _, a, _ := ev.snapshot()
	b.Logf("add-checkpoint round trips seen by the Cosigner: %d, p50 %v, p99 %v, max %v; failure episodes %v, alarms %v",
		len(rtts), rtts[len(rtts)/2], rtts[min(len(rtts)-1, len(rtts)*99/100)], rtts[len(rtts)-1], f, a)
}
