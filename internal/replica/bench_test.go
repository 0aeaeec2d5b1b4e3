package replica

import (
	"context"
	"fmt"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU time (user + system) of process pid, from
// /proc/pid/stat (clock ticks of 10ms); 0 if unreadable.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the parenthesized command name; utime and stime are
	// the 14th and 15th fields of the line.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

func perEvent(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / float64(max(n, 1))
}

// pace appends to e's log at rate events/s (paced by elapsed time, so a
// late tick catches up) until ctx is done, and returns how many.
func pace(ctx context.Context, e *tlogEnv, rate int, start time.Time) int {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	i := 0
	for {
		select {
		case <-ctx.Done():
			return i
		case <-tick.C:
		}
		for target := int(time.Since(start).Seconds() * float64(rate)); i < target; i++ {
			if err := e.log.Append(ctx, chaintest.Entry(e.next+i)); err != nil {
				return i
			}
		}
	}
}

// wholeRuns refuses more than a few ops for a benchmark whose op is a whole
// run with its own log and stores (kept on disk until the benchmark ends):
// -benchtime 100000x meant for BenchmarkIngest would fill the disk.
func wholeRuns(b *testing.B) {
	if b.N > 5 { // classic b.N loops: b.Loop sets b.N only at its end
		b.Fatalf("b.N = %d: one op is a whole run, use -benchtime 1x to 5x", b.N)
	}
}

type sample struct {
	at   time.Time
	size uint64
}

// BenchmarkReplicate: for 10s, events are appended to a real signed
// chain.Log at a paced 50k events/s (and 20k, which a 2-core machine
// running both stores too can sustain), the sealer at its default 500ms
// interval, the replicator (defaults) writing to two real versitygw
// stores on this machine, Quorum 2. The replication lag of a published
// checkpoint is the time from its publication (sampled every 5ms) to
// Delivered() reaching its size. Reports the ingest rate achieved, lag
// percentiles, objects written per second per store, and how long the
// backlog took to drain once appends stopped. One op is one whole run
// (use -benchtime 1x).
func BenchmarkReplicate(b *testing.B) {
	for _, rate := range []int{50_000, 20_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchReplicate(b, rate) })
	}
}

func benchReplicate(b *testing.B, rate int) {
	const runFor = 10 * time.Second
	wholeRuns(b)
	for range b.N {
		e := newEnvInterval(b, 500*time.Millisecond)
		sa, sb := startServer(b, "bench-a"), startServer(b, "bench-b")
		cfg := testConfig(sa.store("a", "tap"), sb.store("b", "tap"))
		d := DefaultConfig()
		cfg.StepEntries, cfg.Parallel, cfg.RoundTimeout, cfg.RequestTimeout = d.StepEntries, d.Parallel, d.RoundTimeout, d.RequestTimeout
		cfg.Quorum = 2
		var failures atomic.Int64
		cfg.OnFailure = func(string, error) { failures.Add(1) }
		r := startReplicator(b, e, cfg)
		src := SealerSource(e.sealer)

		ctx, stop := context.WithTimeout(context.Background(), runFor)
		var wg sync.WaitGroup
		var appended int
		cpu0, store0 := selfCPU(), procCPU(sa.PID())+procCPU(sb.PID())
		start := time.Now()
		wg.Add(1)
		go func() { defer wg.Done(); appended = pace(ctx, e, rate, start) }()
		var published, delivered []sample
		for {
			now := time.Now()
			p, _ := src.Published()
			if len(published) == 0 || p.Size != published[len(published)-1].size {
				published = append(published, sample{now, p.Size})
			}
			dv := r.Delivered()
			if len(delivered) == 0 || dv != delivered[len(delivered)-1].size {
				delivered = append(delivered, sample{now, dv})
			}
			if ctx.Err() != nil && dv == p.Size && e.log.Durable() == p.Size {
				break
			}
			if time.Since(start) > runFor+2*time.Minute {
				b.Fatalf("not delivered 2 min after the run: published %d, delivered %d", p.Size, dv)
			}
			time.Sleep(5 * time.Millisecond)
		}
		stopped := start.Add(runFor)
		drain := time.Since(stopped)
		stop()
		wg.Wait()
		cpu, storeCPU := selfCPU()-cpu0, procCPU(sa.PID())+procCPU(sb.PID())-store0
		var lag []time.Duration
		j := 0
		for _, p := range published {
			if p.size == 0 {
				continue
			}
			for delivered[j].size < p.size {
				j++
			}
			lag = append(lag, delivered[j].at.Sub(p.at))
		}
		objects := 0
		r.Receipts("a", func(Receipt) error { objects++; return nil })
		slices.Sort(lag)
		q := func(f float64) float64 { return float64(lag[min(len(lag)-1, int(f*float64(len(lag))))].Milliseconds()) }
		b.ReportMetric(float64(appended)/runFor.Seconds(), "events/s")
		b.ReportMetric(float64(objects)/(runFor+drain).Seconds(), "objects/s/store")
		b.ReportMetric(q(0.5), "lag-p50-ms")
		b.ReportMetric(q(0.99), "lag-p99-ms")
		b.ReportMetric(float64(lag[len(lag)-1].Milliseconds()), "lag-max-ms")
		b.ReportMetric(float64(drain.Milliseconds()), "drain-ms")
		b.ReportMetric(float64(failures.Load()), "failures")
		// CPU per event: this process (ingest, seal and the replicator),
		// and the two versitygw servers together.
		b.ReportMetric(perEvent(cpu, appended), "tap-cpu-µs/event")
		b.ReportMetric(perEvent(storeCPU, appended), "stores-cpu-µs/event")
	}
}

// BenchmarkIngest: ingest throughput of a real signed chain.Log with its
// sealer, replication off and on (two real versitygw stores on this
// machine, defaults); one op is one event appended, the clock stops when
// all are signed and sealed. Reports this process's CPU per event (ingest,
// seal and the replicator) and, with replication on, the two versitygw
// servers' together.
func BenchmarkIngest(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "replication=off"
		if on {
			name = "replication=on"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnvInterval(b, 500*time.Millisecond)
			var servers []*testServer
			var r *Replicator
			if on {
				sa, sb := startServer(b, "ingest-a"), startServer(b, "ingest-b")
				servers = append(servers, sa, sb)
				cfg := testConfig(sa.store("a", ""), sb.store("b", ""))
				d := DefaultConfig()
				cfg.StepEntries, cfg.Parallel = d.StepEntries, d.Parallel
				r = startReplicator(b, e, cfg)
			}
			storesCPU := func() (d time.Duration) {
				for _, s := range servers {
					d += procCPU(s.PID())
				}
				return d
			}
			ctx := context.Background()
			cpu0, store0 := selfCPU(), storesCPU()
			for b.Loop() {
				if err := e.log.Append(ctx, chaintest.Entry(e.next)); err != nil {
					b.Fatal(err)
				}
				e.next++
			}
			if err := e.log.WaitSigned(ctx, uint64(e.next)); err != nil {
				b.Fatal(err)
			}
			if _, err := e.sealer.WaitCheckpoint(ctx, uint64(e.next)); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(perEvent(selfCPU()-cpu0, b.N), "tap-cpu-µs/event")
			if on {
				// The replicator's work is counted whole only once it has
				// delivered what was appended.
				wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				defer cancel()
				if err := r.WaitDelivered(wctx, uint64(e.next)); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(perEvent(selfCPU()-cpu0, b.N), "tap-cpu-delivered-µs/event")
				b.ReportMetric(perEvent(storesCPU()-store0, b.N), "stores-cpu-µs/event")
			}
		})
	}
}

// BenchmarkCatchUp: the replicator alone. 100k events are appended and
// sealed first; then the replicator (defaults, Quorum 2) delivers them to
// two real versitygw stores on this machine, and the CPU this process
// spends until then is the replicator's (reading the events back,
// building bundles and tiles, uploads, receipts). Reports it and the two
// stores' CPU per event. One op is one whole catch-up (use -benchtime 1x).
func BenchmarkCatchUp(b *testing.B) {
	const n = 100_000
	wholeRuns(b)
	for range b.N {
		b.StopTimer()
		e := newEnvInterval(b, 500*time.Millisecond)
		size := e.appendN(b, n)
		sa, sb := startServer(b, "catchup-a"), startServer(b, "catchup-b")
		cfg := testConfig(sa.store("a", ""), sb.store("b", ""))
		d := DefaultConfig()
		cfg.StepEntries, cfg.Parallel, cfg.RoundTimeout, cfg.RequestTimeout = d.StepEntries, d.Parallel, d.RoundTimeout, d.RequestTimeout
		cfg.Quorum = 2
		b.StartTimer()
		cpu0, store0 := selfCPU(), procCPU(sa.PID())+procCPU(sb.PID())
		r := startReplicator(b, e, cfg)
		waitDelivered(b, r, size)
		cpu, storeCPU := selfCPU()-cpu0, procCPU(sa.PID())+procCPU(sb.PID())-store0
		b.ReportMetric(perEvent(cpu, n), "replicator-cpu-µs/event")
		b.ReportMetric(perEvent(storeCPU, n), "stores-cpu-µs/event")
	}
}

// BenchmarkPut: one op is one conditional-create PUT (bucket.put, the
// replicator's request) of an 8 KiB object, a hash tile's size, to a new
// key of one real versitygw on this machine. Reports this process's CPU
// per PUT: the client's per-request cost, which the body's size hardly
// changes.
func BenchmarkPut(b *testing.B) {
	s := startServer(b, "put")
	bk := newBucket(s.store("a", "tap"), 10*time.Second, 2)
	body := make([]byte, 8<<10)
	ctx := context.Background()
	i := 0
	cpu0 := selfCPU()
	for b.Loop() {
		i++
		body[0], body[1], body[2] = byte(i), byte(i>>8), byte(i>>16)
		if _, err := bk.put(ctx, newObject(fmt.Sprintf("tile/0/%d", i), body, typeTile), uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perEvent(selfCPU()-cpu0, b.N), "cpu-µs/put")
}
