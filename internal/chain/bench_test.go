package chain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Benchmarks of the log on real disk (t.TempDir) in fsync-per-group mode
// unless named otherwise. Re-run with
//
//	go test -run '^$' -bench . -benchtime 200000x ./internal/chain
//
// benchEntry is a ~700-byte event (canonical Header+Payload) plus ~240
// bytes of raw FIX stored beside it.
func benchEntry(i int) *Entry {
	e := testEntry(i)
	e.Payload.PolicyIdentification = nil
	e.Payload.Clock = nil
	t := e.Payload.Trade
	t.TransactTime, t.OrderType, t.Currency, t.CumQty, t.OrdStatus, t.ExecType = "", "", "", "", "", ""
	e.Payload.FIX.SendingTime = ""
	return e
}

func TestBenchEntrySize(t *testing.T) {
	e := benchEntry(123456)
	h, _ := AppendCanonical(nil, &e.Header)
	p, _ := AppendCanonical(nil, &e.Payload)
	if n := len(h) + len(p); n < 650 || n > 760 {
		t.Fatalf("bench event is %d bytes, want ~700", n)
	}
}

// prebuilt entries so the benchmark measures the log, not fmt.
func benchEntries(n int) []*Entry {
	es := make([]*Entry, min(n, 4096))
	for i := range es {
		es[i] = benchEntry(i)
	}
	return es
}

func openBenchLog(b *testing.B, mutate func(*Config)) *Log {
	b.Helper()
	cfg := DefaultConfig(b.TempDir())
	cfg.Logger = quietLogger()
	if mutate != nil {
		mutate(&cfg)
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func reportRate(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "events/s")
	b.ReportMetric(float64(d.Nanoseconds())/float64(n), "ns/event")
}

// BenchmarkDurable64 — 64 concurrent appenders, each appending and waiting
// until its event is durable (AppendWait) before the next: the durable
// throughput a tap with 64 busy sessions gets.
func BenchmarkDurable64(b *testing.B) {
	for _, mode := range []Durability{SyncPerGroup, SyncInterval} {
		b.Run(mode.String(), func(b *testing.B) {
			l := openBenchLog(b, func(c *Config) { c.Durability = mode })
			es := benchEntries(b.N)
			var next atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
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
						e := *es[i%int64(len(es))]
						if _, _, err := l.AppendWait(ctx, &e); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			reportRate(b, b.N, time.Since(start))
		})
	}
}

// BenchmarkPipelined64 — 64 concurrent appenders that queue without waiting
// (Append + Done, as the tap does: a FIX session need not wait for the disk,
// its MsgSeqNum advances in the same batch as its event); measured until the
// last event is durable. With signed=true, also until the last is signed.
func BenchmarkPipelined64(b *testing.B) {
	for _, c := range []struct {
		name   string
		mode   Durability
		signed bool
	}{
		{"group", SyncPerGroup, false},
		{"interval", SyncInterval, false},
		{"group-signed", SyncPerGroup, true},
		{"interval-signed", SyncInterval, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := openBenchLog(b, func(cfg *Config) {
				cfg.Durability = c.mode
				if c.signed {
					cfg.Signer = NewSigner(testKey(b))
				}
			})
			es := benchEntries(b.N)
			var next atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
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
						// Append copies what it needs and does not retain e.
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
			if c.signed {
				if err := l.WaitSigned(ctx, uint64(b.N)); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, time.Since(start))
		})
	}
}

// BenchmarkOfferedLoad100k — an open-loop sender offers 100k events/s (in
// bursts every 200 µs) and the latency from each event's scheduled time to
// its Done (durable) is recorded: p50/p99/p999. Scheduling from the
// intended time, not the actual send, keeps a stalled log from hiding its
// own latency (no coordinated omission). Use -benchtime Nx; N/100k seconds.
func BenchmarkOfferedLoad100k(b *testing.B) {
	for _, c := range []struct {
		name   string
		mode   Durability
		signed bool
	}{
		{"group", SyncPerGroup, false},
		{"group-signed", SyncPerGroup, true},
		{"interval", SyncInterval, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			offered(b, 100_000, c.mode, c.signed)
		})
	}
}

func offered(b *testing.B, rate int, mode Durability, signed bool) {
	l := openBenchLog(b, func(cfg *Config) {
		cfg.Durability = mode
		if signed {
			cfg.Signer = NewSigner(testKey(b))
		}
	})
	es := benchEntries(b.N)
	lat := make([]int64, b.N)  // scheduled time → durable (sender lag included)
	alat := make([]int64, b.N) // Append call → durable: the "append-to-durable"
	ctx := context.Background()
	const tick = 200 * time.Microsecond
	perTick := float64(rate) * tick.Seconds()
	var done sync.WaitGroup
	done.Add(b.N)
	b.ResetTimer()
	ru0 := cpuTime()
	start := time.Now()
	sent := 0
	for sent < b.N {
		// Send everything whose scheduled time has come.
		due := min(b.N, int(float64(time.Since(start))/float64(tick)*perTick)+1)
		for ; sent < due; sent++ {
			i := sent
			sched := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			e := *es[i%len(es)]
			called := time.Now()
			e.Done = func(_ uint64, _ Hash, err error) {
				if err != nil {
					b.Error(err)
				}
				now := time.Now()
				lat[i] = int64(now.Sub(sched))
				alat[i] = int64(now.Sub(called))
				done.Done()
			}
			if err := l.Append(ctx, &e); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(tick)
	}
	done.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(cpuTime()-ru0)/1e3/float64(b.N), "cpu-us/event")
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(alat)
	q := func(xs []int64, p float64) float64 { return float64(xs[int(p*float64(len(xs)-1))]) / 1e6 }
	b.ReportMetric(q(alat, 0.50), "p50-ms")
	b.ReportMetric(q(alat, 0.99), "p99-ms")
	b.ReportMetric(q(alat, 0.999), "p999-ms")
	b.ReportMetric(q(lat, 0.99), "sched-p99-ms")
	b.ReportMetric(float64(l.WriteStalls()), "stalls")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkPrepare — the appender-side work per event: canonical encoding
// of Header and Payload, the record, and hashing its own bytes.
func BenchmarkPrepare(b *testing.B) {
	e := benchEntry(1)
	p := pendingPool.New().(*pending)
	b.ReportAllocs()
	for b.Loop() {
		rec, hdr, pay, err := buildRecord(p.rec, e)
		if err != nil {
			b.Fatal(err)
		}
		p.rec = rec
		p.digest.Reset()
		p.digest.Write(rec[hdr[0]:hdr[1]])
		p.digest.Write(rec[pay[0]:pay[1]])
	}
}

// BenchmarkFsyncFloor measures what the file system alone gives: it appends
// what the log's WAL sees at 100k events/s (≈120 KiB per group, one group
// every ~1.2 ms, as measured at that rate) to a file and fdatasyncs it, with
// nothing else running. Its p99 is the floor under
// any fsync-per-group latency on this disk.
func BenchmarkFsyncFloor(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "wal"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 120<<10)
	lat := make([]int64, 0, b.N)
	b.ResetTimer()
	for range b.N {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		t := time.Now()
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, int64(time.Since(t)))
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(0.999), "p999-ms")
}

// cpuTime is the process's user+system CPU time in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDiskFloor is the lower bound the disk puts under
// OfferedLoad100k's p99, with Pebble taken out: b.N events of recBytes
// arrive open-loop at rate per second; one syncer writes whatever has
// arrived to a plain file and fdatasyncs it (a group commit, the best any
// write-ahead log can do), and each event's latency is arrival → its
// fdatasync returned. The file is a 128 MiB ring, pre-zeroed and synced
// first, as Pebble's recycled WAL files are, so a sync never waits for
// block allocation.
//
//   - alone: nothing else writes.
//   - with-flush: a second goroutine writes the same bytes again, paced at
//     the same rate, into 64 MiB files with sync_file_range every 512 KiB,
//     an fsync per file and the file three back deleted: what memtable
//     flushes (and value-separated compactions) must write for the same
//     events, made as gentle as possible (steady, never bursty).
//
// Its with-flush p99 at 100k events/s is what an LSM on this one disk can
// reach at best; the 50k rows show what halving the bytes would give.
//
//	go test -run '^$' -bench DiskFloor -benchtime 800000x ./internal/chain   # 8 s each at 100k/s
func BenchmarkDiskFloor(b *testing.B) {
	const recBytes = 1000
	for _, rate := range []int{100_000, 50_000} {
		for _, flush := range []bool{false, true} {
			name := fmt.Sprintf("%dk/alone", rate/1000)
			if flush {
				name = fmt.Sprintf("%dk/with-flush", rate/1000)
			}
			b.Run(name, func(b *testing.B) { diskFloor(b, rate, recBytes, flush) })
		}
	}
}

func diskFloor(b *testing.B, rate, recBytes int, flush bool) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "wal"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const ring = 128 << 20
	zero := make([]byte, 1<<20)
	for n := 0; n < ring; n += len(zero) {
		if _, err := f.Write(zero); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	flushErr := make(chan error, 1)
	if flush {
		go func() { flushErr <- flushWriter(dir, float64(rate*recBytes), stop) }()
	} else {
		flushErr <- nil
	}
	buf := make([]byte, 4<<20)
	lat := make([]int64, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	next, off := 0, 0 // the first event not yet written; where it goes
	for next < b.N {
		arrived := min(b.N, int(time.Since(start).Seconds()*float64(rate)))
		if arrived <= next {
			time.Sleep(20 * time.Microsecond)
			continue
		}
		for n := (arrived - next) * recBytes; n > 0; {
			c := min(n, len(buf), ring-off)
			if _, err := f.WriteAt(buf[:c], int64(off)); err != nil {
				b.Fatal(err)
			}
			n -= c
			if off += c; off == ring {
				off = 0
			}
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		done := time.Since(start)
		for i := next; i < arrived; i++ {
			lat = append(lat, int64(done-time.Duration(float64(i)/float64(rate)*float64(time.Second))))
		}
		next = arrived
	}
	b.StopTimer()
	close(stop)
	if err := <-flushErr; err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(0.999), "p999-ms")
}

// flushWriter writes bytesPerSec into 64 MiB files until stop is closed
// (see BenchmarkDiskFloor).
func flushWriter(dir string, bytesPerSec float64, stop <-chan struct{}) error {
	const fileSize, syncEvery = 64 << 20, 512 << 10
	buf := make([]byte, 256<<10)
	start := time.Now()
	var written float64
	var f *os.File
	inFile, n := 0, 0
	for {
		select {
		case <-stop:
			if f != nil {
				return f.Close()
			}
			return nil
		default:
		}
		if written >= time.Since(start).Seconds()*bytesPerSec {
			time.Sleep(time.Millisecond)
			continue
		}
		if f == nil {
			var err error
			if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("sst%d", n))); err != nil {
				return err
			}
			inFile = 0
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
		written += float64(len(buf))
		if inFile += len(buf); inFile%syncEvery == 0 {
			if err := unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE); err != nil {
				return err
			}
		}
		if inFile >= fileSize {
			if err := f.Sync(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			f = nil
			if n >= 3 {
				if err := os.Remove(filepath.Join(dir, fmt.Sprintf("sst%d", n-3))); err != nil {
					return err
				}
			}
			n++
		}
	}
}
