package seal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
)

// Issue 5: "A TSA outage test: TSA unreachable for a simulated long
// interval, ingest throughput unchanged, ERR events written, everything
// anchored after it returns. Ingest never waits on any of this."
// TestAnchorerOutage checks the ERR episodes and the anchoring after the
// return; these benchmarks measure the rest: ingest throughput through an
// outage, and the anchorer's goroutines and heap over a long one.

// tsaCondition is how the benchmarks' TSA behaves.
type tsaCondition int

const (
	condOff       tsaCondition = iota // no anchorer at all
	condHealthy                       // a local digitorus TSA
	condRefused                       // nothing listens on its port: connection refused
	condBlackHole                     // accepts TCP, reads, never answers: requests time out
	condHTTP500                       // answers HTTP 500
	condRejection                     // answers a TimeStampResp with PKIStatus rejection
)

var condNames = map[tsaCondition]string{
	condOff: "off", condHealthy: "healthy", condRefused: "refused",
	condBlackHole: "blackhole", condHTTP500: "http500", condRejection: "rejection",
}

func (c tsaCondition) String() string { return condNames[c] }

// switchTSA serves one loopback address as a TSA whose condition can be
// switched: the URL stays the same, as an operator's TSA URL does through
// its outage.
type switchTSA struct {
	p         *testPKI
	addr      string
	rejection []byte // a DER TimeStampResp, status rejection / badRequest

	ln      net.Listener // the black hole's listener
	srv     *http.Server // the HTTP conditions' server
	running sync.WaitGroup
	mu      sync.Mutex
	held    map[net.Conn]struct{} // the black hole's open connections
}

func newSwitchTSA(b testing.TB, p *testPKI, c tsaCondition) *switchTSA {
	b.Helper()
	rej, err := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadRequest)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &switchTSA{p: p, addr: ln.Addr().String(), rejection: rej, held: map[net.Conn]struct{}{}}
	s.serve(c, ln)
	return s
}

func (s *switchTSA) url() string { return "http://" + s.addr + "/tsr" }

// set stops whatever serves the address and serves it as c.
func (s *switchTSA) set(b testing.TB, c tsaCondition) {
	b.Helper()
	s.stop()
	if c == condRefused {
		return
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		b.Fatalf("listen again on the TSA's address: %v", err)
	}
	s.serve(c, ln)
}

func (s *switchTSA) serve(c tsaCondition, ln net.Listener) {
	switch c {
	case condOff, condRefused:
		ln.Close()
	case condBlackHole:
		s.ln = ln
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				s.mu.Lock()
				s.held[conn] = struct{}{}
				s.mu.Unlock()
				s.running.Add(1) // this goroutine's own count keeps the group above zero
				go func() {
					defer s.running.Done()
					io.Copy(io.Discard, conn) // until the client gives up
					s.mu.Lock()
					delete(s.held, conn)
					s.mu.Unlock()
					conn.Close()
				}()
			}
		}()
	default:
		s.srv = &http.Server{Handler: s.handler(c)}
		s.running.Add(1)
		go func() { defer s.running.Done(); s.srv.Serve(ln) }()
	}
}

func (s *switchTSA) handler(c tsaCondition) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			return
		}
		switch c {
		case condHTTP500:
			http.Error(w, "tsa: internal error", http.StatusInternalServerError)
			return
		case condRejection:
			w.Header().Set("Content-Type", "application/timestamp-reply")
			w.Write(s.rejection)
			return
		}
		resp, err := s.p.response(body, tsaGood)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	})
}

// stop closes the listener and every connection and waits for the
// serving goroutines.
func (s *switchTSA) stop() {
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
		s.mu.Lock()
		for c := range s.held {
			c.Close()
		}
		s.mu.Unlock()
	}
	s.running.Wait()
}

// countingTransport counts the anchorer's HTTP attempts, whatever becomes
// of them (refused, timed out, answered).
type countingTransport struct {
	rt *http.Transport
	n  atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// processCPU is this process's CPU time (user + system), from getrusage.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAndGoroutines reads the live heap (after a GC) and the goroutine
// count: the least of 20 samples over 100 ms, so that short-lived
// goroutines (Pebble's flushes, a dial in progress) do not count. The
// fake TSA's own connection goroutines are not the anchorer's and are
// left out: a black hole holds one per connection until the kernel has
// told it the client gave up, and CI caught five at once.
func heapAndGoroutines(tsa *switchTSA) (heap uint64, goroutines int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	goroutines = runtime.NumGoroutine() - tsa.connGoroutines()
	for range 19 {
		time.Sleep(5 * time.Millisecond)
		goroutines = min(goroutines, runtime.NumGoroutine()-tsa.connGoroutines())
	}
	return m.HeapAlloc, goroutines
}

// connGoroutines is how many connection goroutines the black hole runs
// (0 for no TSA: the condition without an anchorer).
func (s *switchTSA) connGoroutines() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// goroutineDump is the goroutine profile, stacks grouped, for evidence.
func goroutineDump() string {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	return buf.String()
}

// pipeline is the tap's evidence path without FIX: a signed chain.Log on
// disk, fsync per group commit (the default), its Sealer, and (unless the
// condition is off) an Anchorer to one switchable TSA. As the tap does,
// the anchorer's OnFailure appends an ERR event and its OnAnchor an AUD
// event carrying the AnchorRecord.
type pipeline struct {
	dir      string
	log      *chain.Log
	sealer   *Sealer
	tsa      *switchTSA
	anchorer *Anchorer
	client   *countingTransport

	selfQueued atomic.Uint64 // ERR and AUD events handed to Append
	failures   atomic.Int64  // OnFailure calls
	anchors    atomic.Int64  // OnAnchor calls
	anchored   atomic.Uint64 // the largest tree size anchored
	appendErr  atomic.Pointer[error]
	closed     bool
}

type pipelineConfig struct {
	cond                            tsaCondition
	sealEvery, anchorEvery          time.Duration
	minBackoff, maxBackoff, timeout time.Duration
}

func startPipeline(b *testing.B, parent string, p *testPKI, pc pipelineConfig) *pipeline {
	b.Helper()
	dir, err := os.MkdirTemp(parent, "run")
	if err != nil {
		b.Fatal(err)
	}
	seed := sha256.Sum256([]byte("seal-outage-events"))
	signer := chain.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	cfg := chain.DefaultConfig(dir) // SyncPerGroup, SignWorkers = GOMAXPROCS
	cfg.Signer = signer
	cfg.Logger = quietLogger()
	cfg.Now = time.Now // group-commit latency: tells a slow disk from a slow pipeline
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	sc := DefaultConfig(testOrigin, testKey(b))
	sc.Interval = pc.sealEvery
	sc.Logger = quietLogger()
	s, err := New(context.Background(), l, sc)
	if err != nil {
		l.Close()
		b.Fatal(err)
	}
	pl := &pipeline{dir: dir, log: l, sealer: s}
	b.Cleanup(func() { pl.close(b) }) // after a b.Fatal
	if pc.cond == condOff {
		return pl
	}
	pl.tsa = newSwitchTSA(b, p, pc.cond)
	pl.client = &countingTransport{rt: http.DefaultTransport.(*http.Transport).Clone()}
	url := pl.tsa.url()
	a, err := NewAnchorer(context.Background(), s, AnchorConfig{
		TSAs:       []TSA{{URL: url, Roots: p.roots()}},
		Every:      pc.anchorEvery,
		MinBackoff: pc.minBackoff, MaxBackoff: pc.maxBackoff,
		Window:   time.Minute,
		Now:      func() time.Time { return tokenTime }, // the test TSA's genTime
		Client:   &http.Client{Timeout: pc.timeout, Transport: pl.client},
		PolicyID: "org.example.tap:bench",
		Signer:   signer,
		OnAnchor: func(r *AnchorRecord) {
			pl.anchors.Add(1)
			for {
				old := pl.anchored.Load()
				if r.TreeSize <= old || pl.anchored.CompareAndSwap(old, r.TreeSize) {
					break
				}
			}
			pl.appendSelf(chain.AUD, chain.Payload{AnchorRecord: r})
		},
		OnFailure: func(u string, err error) {
			pl.failures.Add(1)
			pl.appendSelf(chain.ERR, chain.Payload{ErrorDetails: &chain.ErrorDetails{
				ErrorCode: "ERR_SYSTEM", Severity: "WARNING", AffectedComponent: "anchor " + u,
				ErrorMessage: fmt.Sprintf("time-stamping authority failing; retrying with backoff: %.300s", err)}})
		},
		Logger: quietLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	pl.anchorer = a
	return pl
}

// appendSelf appends an event the tap originates (ERR, AUD) on the
// anchorer's goroutine, as fixtap's callbacks do: it may wait for room in
// the append queue; ingest does not wait for it.
func (pl *pipeline) appendSelf(typ chain.EventType, pay chain.Payload) {
	k := pl.selfQueued.Add(1)
	e := chaintest.Entry(1<<40 + int(k))
	code, _ := typ.Code()
	e.Header.EventType, e.Header.EventTypeCode = typ, code
	e.Payload = pay
	if err := pl.log.Append(context.Background(), e); err != nil {
		pl.appendErr.Store(&err)
	}
}

// close shuts everything down in order (anchorer, sealer, log, TSA) and
// removes the run's directory; a second call does nothing.
func (pl *pipeline) close(b *testing.B) {
	b.Helper()
	if pl.closed {
		return
	}
	pl.closed = true
	if pl.anchorer != nil {
		if err := pl.anchorer.Shutdown(context.Background()); err != nil {
			b.Error(err)
		}
	}
	if err := pl.sealer.Close(); err != nil {
		b.Error(err)
	}
	if err := pl.log.Close(); err != nil {
		b.Error(err)
	}
	if pl.tsa != nil {
		pl.tsa.stop()
		pl.client.rt.CloseIdleConnections()
	}
	if err := os.RemoveAll(pl.dir); err != nil {
		b.Error(err)
	}
}

// countERR counts the ERR events in the log (scanning the canonical
// header bytes: JCS writes "EventType":"ERR" exactly so).
func (pl *pipeline) countERR(b *testing.B) int {
	b.Helper()
	n := 0
	err := pl.log.Range(0, pl.log.Durable(), func(r *chain.Record) error {
		if bytes.Contains(r.Header, []byte(`"EventType":"ERR"`)) {
			n++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// waitAnchoredAll waits (≤ 30 s) until the TSA has anchored a checkpoint
// covering every event durable now, and checks the stored record against
// the stored checkpoint. Correctness, not speed: it fails the benchmark.
func (pl *pipeline) waitAnchoredAll(b *testing.B) {
	b.Helper()
	n := pl.log.Durable()
	deadline := time.Now().Add(30 * time.Second)
	for pl.anchored.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("30 s after the TSA came back, anchored up to %d of %d events", pl.anchored.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	size := pl.anchored.Load()
	rec, err := pl.sealer.Anchor(size, pl.tsa.url())
	if err != nil {
		b.Fatal(err)
	}
	cp, err := pl.sealer.Checkpoint(size)
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Equal(rec.Checkpoint, cp.Note) || rec.TreeSize != size || rec.EventCount != size {
		b.Fatalf("stored anchor of %d (covering %d events) does not match checkpoint %d", rec.TreeSize, rec.EventCount, cp.Size)
	}
	if c, err := pl.sealer.Latest(); err != nil || c.Size < n {
		b.Fatalf("newest checkpoint %v (%v) does not cover the %d events", c, err, n)
	}
}

// The outage benchmark's scale: a short cadence stands in for fixtap's
// (10 min to 24 h, backoff 1 s to 5 min, 30 s HTTP timeout), so that one
// run holds hundreds of cadence periods of outage.
const (
	outageRunFor    = 3 * time.Second // saturated ingest per run: 300 cadence periods
	outageAppenders = 64
)

var outagePipeline = pipelineConfig{
	sealEvery:   20 * time.Millisecond,
	anchorEvery: 10 * time.Millisecond,
	minBackoff:  time.Millisecond, maxBackoff: 10 * time.Millisecond,
	timeout: 100 * time.Millisecond, // well above a loopback answer under full load
}

// ingestResult is one run of ingestRun.
type ingestResult struct {
	events     int           // appended by the appenders
	elapsed    time.Duration // from the first append until all are signed and sealed
	cpu        time.Duration // process CPU over elapsed
	failures   int64         // OnFailure calls before the TSA came back
	errEvents  int           // ERR events in the log at the end
	requests   int64         // HTTP attempts to the TSA during ingest
	recovery   time.Duration // TSA back → a stored anchor covers every event
	goroutines int           // goroutines at the end of ingest − at its start
	heapKiB    float64       // live heap at the end of ingest − at its start
	commit     time.Duration // mean group-commit latency (fsync included)
	stalls     int64         // Pebble write stalls
}

// ingestRun runs a fresh pipeline in condition cond under saturated
// ingest (outageAppenders goroutines calling Append, as the tap's sessions
// do, for outageRunFor), then brings the TSA back and checks that every
// event gets anchored.
func ingestRun(b *testing.B, parent string, p *testPKI, entries []*chain.Entry, cond tsaCondition) ingestResult {
	b.Helper()
	pc := outagePipeline
	pc.cond = cond
	pl := startPipeline(b, parent, p, pc)
	ctx := context.Background()
	heap0, gor0 := heapAndGoroutines(pl.tsa)
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cpu0, start := processCPU(), time.Now()
	for range outageAppenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := next.Add(1) - 1
				// Append copies what it needs and does not retain the entry.
				if err := pl.log.Append(ctx, entries[i%int64(len(entries))]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(outageRunFor)
	close(stop)
	wg.Wait()
	events := int(next.Load())
	target := uint64(events) + pl.selfQueued.Load()
	if err := pl.log.WaitSigned(ctx, target); err != nil {
		b.Fatal(err)
	}
	if _, err := pl.sealer.WaitCheckpoint(ctx, target); err != nil {
		b.Fatal(err)
	}
	r := ingestResult{events: events, elapsed: time.Since(start), cpu: processCPU() - cpu0}
	if lat := pl.log.CommitLatency(); lat.Count > 0 {
		r.commit = lat.Sum / time.Duration(lat.Count)
	}
	r.stalls = pl.log.WriteStalls()
	heap1, gor1 := heapAndGoroutines(pl.tsa)
	r.goroutines, r.heapKiB = gor1-gor0, (float64(heap1)-float64(heap0))/1024
	if cond == condOff {
		pl.close(b)
		return r
	}
	r.failures, r.requests = pl.failures.Load(), pl.client.n.Load()
	if cond != condHealthy {
		// The outage's own correctness: one failure episode, reported
		// once, and nothing anchored while the TSA was down.
		if r.failures != 1 {
			b.Fatalf("%s: %d failure episodes reported during the outage, want 1", cond, r.failures)
		}
		if a := pl.anchors.Load(); a != 0 {
			b.Fatalf("%s: %d anchors while the TSA was down", cond, a)
		}
		pl.tsa.set(b, condHealthy)
	}
	t0 := time.Now()
	pl.waitAnchoredAll(b)
	r.recovery = time.Since(t0)
	if err := pl.anchorer.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if p := pl.appendErr.Load(); p != nil {
		b.Fatalf("appending the anchorer's events: %v", *p)
	}
	r.errEvents = pl.countERR(b)
	if int64(r.errEvents) != pl.failures.Load() {
		b.Fatalf("%s: %d ERR events in the log for %d failure episodes", cond, r.errEvents, pl.failures.Load())
	}
	pl.close(b)
	return r
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkIngestTSAOutage: ingest throughput of the real pipeline (a
// signed chain.Log on disk with fsync per group commit, the sealer cutting
// a checkpoint every 20 ms, the anchorer anchoring every 10 ms) saturated
// by 64 concurrent appenders for 3 s, with the TSA in each condition:
// healthy, refused (a closed port), blackhole (accepts TCP, never answers;
// 100 ms request timeout), http500, rejection (a PKIStatus rejection),
// and off (no anchorer). After an outage the TSA comes back at the same
// URL and the benchmark fails unless a stored anchor then covers every
// event, ERR included; it also fails unless the outage was reported as
// one failure episode whose ERR event is in the log.
//
// Each op is a pair of runs in random order — the condition and a healthy
// reference, each on a fresh log — so that ratio (events/s ÷ the
// reference's) compares runs taken under the same machine load; the
// healthy condition's own ratio is the noise floor. Metrics: events/s
// (appended ÷ time until all are signed and sealed), cpu-µs/event (this
// process's getrusage over that time, the in-process TSA included),
// their ratios to the reference, TSA requests and ERR events of the run,
// recovery-ms (TSA back → an anchor covers everything), goroutines and
// live heap at the end of ingest minus at its start (the heap's growth is
// the chain's append pools and Pebble's batches, the same in every
// condition), and, to tell a slow disk from a slow pipeline, the mean
// group-commit latency of both runs (commit-ms, ref-commit-ms) and their
// Pebble write stalls. Run with
//
//	go test -c -o /tmp/seal.test ./internal/seal
//	flock /tmp/bench.lock /tmp/seal.test -test.run '^$' \
//	    -test.bench BenchmarkIngestTSAOutage -test.benchtime 1x -test.count 5
func BenchmarkIngestTSAOutage(b *testing.B) {
	p := newTestPKI(b, true)
	entries := make([]*chain.Entry, 4096)
	for i := range entries {
		entries[i] = chaintest.Entry(i)
	}
	for _, cond := range []tsaCondition{condHealthy, condRefused, condBlackHole, condHTTP500, condRejection, condOff} {
		b.Run(cond.String(), func(b *testing.B) {
			parent := b.TempDir()
			var rate, cpu, ratio, cpuRatio, refRate, reqs, errs, recovery, gor, heap, commit, refCommit, stalls []float64
			for b.Loop() {
				var got, ref ingestResult
				if mrand.IntN(2) == 0 {
					got = ingestRun(b, parent, p, entries, cond)
					ref = ingestRun(b, parent, p, entries, condHealthy)
				} else {
					ref = ingestRun(b, parent, p, entries, condHealthy)
					got = ingestRun(b, parent, p, entries, cond)
				}
				r := float64(got.events) / got.elapsed.Seconds()
				rr := float64(ref.events) / ref.elapsed.Seconds()
				c := float64(got.cpu.Microseconds()) / float64(got.events)
				rc := float64(ref.cpu.Microseconds()) / float64(ref.events)
				rate, refRate, cpu = append(rate, r), append(refRate, rr), append(cpu, c)
				ratio, cpuRatio = append(ratio, r/rr), append(cpuRatio, c/rc)
				reqs, errs = append(reqs, float64(got.requests)), append(errs, float64(got.errEvents))
				recovery = append(recovery, float64(got.recovery.Microseconds())/1000)
				gor, heap = append(gor, float64(got.goroutines)), append(heap, got.heapKiB)
				commit = append(commit, float64(got.commit.Microseconds())/1000)
				refCommit = append(refCommit, float64(ref.commit.Microseconds())/1000)
				stalls = append(stalls, float64(got.stalls+ref.stalls))
			}
			b.ReportMetric(median(rate), "events/s")
			b.ReportMetric(median(cpu), "cpu-µs/event")
			b.ReportMetric(median(refRate), "ref-events/s")
			b.ReportMetric(median(ratio), "ratio")
			b.ReportMetric(median(cpuRatio), "cpu-ratio")
			b.ReportMetric(median(reqs), "tsa-requests")
			b.ReportMetric(median(errs), "err-events")
			b.ReportMetric(median(recovery), "recovery-ms")
			b.ReportMetric(median(gor), "goroutines-delta")
			b.ReportMetric(median(heap), "heap-delta-KiB")
			b.ReportMetric(median(commit), "commit-ms")
			b.ReportMetric(median(refCommit), "ref-commit-ms")
			b.ReportMetric(median(stalls), "write-stalls")
		})
	}
}

// BenchmarkAnchorerLongOutage: the anchorer (one TSA, 2 ms cadence,
// backoff 1–2 ms, 20 ms request timeout) facing a TSA down for 4 s = 2000
// cadence periods, the log growing by an event every 10 ms so that each
// retry is for a newer checkpoint. Goroutines and live heap are read 0.5 s
// into the outage and at its end; the benchmark fails if goroutines grew
// by more than maxInFlight (one request in flight, which a sample may or
// may not catch; a pile-up would grow by one or more per retry, ~180 for a
// black hole), if the outage was
// not reported as exactly one failure episode with its ERR event in the
// log, or if a stored anchor does not cover every event once the TSA is
// back. One op is one outage; run with -test.benchtime 1x.
func BenchmarkAnchorerLongOutage(b *testing.B) {
	const (
		warmUp = 500 * time.Millisecond
		window = 4 * time.Second
	)
	pc := pipelineConfig{
		sealEvery:   20 * time.Millisecond,
		anchorEvery: 2 * time.Millisecond,
		minBackoff:  time.Millisecond, maxBackoff: 2 * time.Millisecond,
		timeout: 20 * time.Millisecond,
	}
	p := newTestPKI(b, true)
	for _, cond := range []tsaCondition{condRefused, condBlackHole, condHTTP500, condRejection} {
		b.Run(cond.String(), func(b *testing.B) {
			parent := b.TempDir()
			pc := pc
			pc.cond = cond
			var reqs, gor0, gor1, heap0, heap1 float64
			for b.Loop() {
				pl := startPipeline(b, parent, p, pc)
				ctx, stop := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for i := 0; ; i++ {
						select {
						case <-ctx.Done():
							return
						case <-tick.C:
						}
						if err := pl.log.Append(ctx, chaintest.Entry(i)); err != nil {
							return
						}
					}
				}()
				time.Sleep(warmUp)
				h0, g0 := heapAndGoroutines(pl.tsa)
				r0 := pl.client.n.Load()
				time.Sleep(window)
				h1, g1 := heapAndGoroutines(pl.tsa)
				r1 := pl.client.n.Load()
				stop()
				<-done
				// One request in flight is up to ~4 goroutines: the
				// anchorer's call in RoundTrip, the transport's read and
				// write loops, a dial. (The fake TSA's own are left out.)
				const maxInFlight = 6
				if g1-g0 > maxInFlight {
					b.Fatalf("%s: goroutines grew from %d to %d over %d requests:\n%.8000s", cond, g0, g1, r1-r0, goroutineDump())
				}
				if f := pl.failures.Load(); f != 1 {
					b.Fatalf("%s: %d failure episodes reported during the outage, want 1", cond, f)
				}
				if a := pl.anchors.Load(); a != 0 {
					b.Fatalf("%s: %d anchors while the TSA was down", cond, a)
				}
				pl.tsa.set(b, condHealthy)
				pl.waitAnchoredAll(b)
				if err := pl.anchorer.Shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
				if n := pl.countERR(b); n != 1 {
					b.Fatalf("%s: %d ERR events in the log, want 1", cond, n)
				}
				pl.close(b)
				reqs, gor0, gor1 = float64(r1-r0), float64(g0), float64(g1)
				heap0, heap1 = float64(h0)/1024, float64(h1)/1024
			}
			b.ReportMetric(float64(window/pc.anchorEvery), "cadence-periods")
			b.ReportMetric(reqs, "tsa-requests")
			b.ReportMetric(gor0, "goroutines-before")
			b.ReportMetric(gor1, "goroutines-after")
			b.ReportMetric(heap0, "heap-before-KiB")
			b.ReportMetric(heap1, "heap-after-KiB")
		})
	}
}
