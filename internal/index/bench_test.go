package index

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// Benchmarks on real disk (t.TempDir). Re-run with
//
//	go test -run '^$' -bench 'Ingest|CatchUp|Extract' -benchtime 200000x -count 3 ./internal/index

// BenchmarkExtract: parsing one realistic execution report's Header and
// Payload into the index's fields.
func BenchmarkExtract(b *testing.B) {
	l := openLog(b, b.TempDir())
	defer closeLog(b, l)
	ms, _ := fixture()
	appendAll(b, l, ms[5:6])
	r, err := l.Get(0)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(r.Header) + len(r.Payload)))
	b.ReportAllocs()
	var f fields
	for b.Loop() {
		if err := extract(r, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// loadgenEntries maps n of loadgen's trading-day messages (one session,
// distinct ClOrdIDs, OrderIDs and ExecIDs, replace chains) into entries,
// as the tap would.
func loadgenEntries(b *testing.B, n int) []*chain.Entry {
	g := loadgen.NewGenerator(1)
	es := make([]*chain.Entry, n)
	for i := range es {
		body := strings.TrimSuffix(string(g.Next()), "\x01")
		typ := "8"
		if !strings.HasPrefix(body, "37=") {
			typ = "D"
		}
		es[i] = entry(b, msg{session: sessA, trace: "T-" + body[3:12], ts: t0 + int64(i)*1000,
			fields: append([]string{typ}, strings.Split(body, "\x01")...)}, i+1)
	}
	return es
}

// BenchmarkIngest — the chain's pipelined ingest (64 appenders queueing
// without waiting, as the tap does; fsync per group), measured until
// the last event is durable, unsigned and signed, without and with the
// Indexer running behind it. With the Indexer, indexed-events/s is the rate at which the index
// kept up: the time until everything was indexed.
func BenchmarkIngest(b *testing.B) {
	es := loadgenEntries(b, 1<<15)
	for _, c := range []struct {
		name            string
		signed, indexed bool
	}{
		{"unsigned/no-indexer", false, false},
		{"unsigned/indexer", false, true},
		{"signed/no-indexer", true, false},
		{"signed/indexer", true, true},
	} {
		indexed := c.indexed
		b.Run(c.name, func(b *testing.B) {
			cfg := chain.DefaultConfig(b.TempDir())
			cfg.Logger = quiet()
			if c.signed {
				cfg.Signer = chain.NewSigner(testKey(b))
			}
			l, err := chain.Open(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer closeLog(b, l)
			var ix *Indexer
			if indexed {
				ic := DefaultConfig()
				ic.Logger = quiet()
				if ix, err = New(context.Background(), l, ic); err != nil {
					b.Fatal(err)
				}
				defer shutdown(b, ix)
			}
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			cpu0 := cpuTime(b)
			start := time.Now()
			var wg sync.WaitGroup
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if err := l.Append(ctx, es[i%int64(len(es))]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := l.WaitDurable(ctx, uint64(b.N)); err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			b.ReportMetric(float64(b.N)/d.Seconds(), "events/s")
			if ix != nil {
				b.ReportMetric(float64(ix.Watermark()), "indexed-at-durable")
				for ix.Watermark() < uint64(b.N) {
					time.Sleep(100 * time.Microsecond)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "indexed-events/s")
			}
			// CPU per event until everything is durable (and indexed): what
			// the Indexer costs, whatever else the machine runs.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
			b.StopTimer()
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// testKey is the RFC 8032 §7.1 TEST 1 key.
func testKey(t testing.TB) ed25519.PrivateKey {
	seed, err := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// BenchmarkCatchUp — an Indexer alone, unthrottled (MaxBusy 100), indexing
// b.N durable events from scratch: the Indexer's cost per event. With the
// default MaxBusy a catch-up runs at about half this rate.
func BenchmarkCatchUp(b *testing.B) {
	es := loadgenEntries(b, 1<<15)
	l := openLog(b, b.TempDir())
	defer closeLog(b, l)
	ctx := context.Background()
	for i := range b.N {
		if err := l.Append(ctx, es[i%len(es)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	ic := DefaultConfig()
	ic.Logger = quiet()
	ic.MaxBusy = 100
	b.ResetTimer()
	start := time.Now()
	ix, err := New(ctx, l, ic)
	if err != nil {
		b.Fatal(err)
	}
	for ix.Watermark() < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	shutdown(b, ix)
}
