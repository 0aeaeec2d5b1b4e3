package tap

// End-to-end benchmarks of the tap (issue 3, "Benchmarks"): loadgen sends
// over loopback to the tap running as a quickfixgo acceptor over a real chain
// log; a message counts when its event is durable (and, when signing, signed).
//
//	GOTOOLCHAIN=local go test -run '^$' -bench 'Tap|Quickfix' -benchtime 100000x -count 3 ./internal/tap
//
// Timing: "first byte sent" is just before loadgen.Run (its dial and Logon
// included); "durable" is when a goroutine blocked in Log.WaitDurable is
// woken by the durable watermark's advance (exact but for scheduling delay);
// "signed" and "committed" have no notification and are polled every
// benchPoll. The ns/op and ER/s reported are from those times, not from the
// benchmark timer (which also covers loadgen's closing TestRequest and Logout
// round trip).

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
	"github.com/fixtap/fixtap/internal/gcfloor"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// benchPoll is the recorder's polling interval for the watermarks that have
// no notification (signed, committed). Asked for 100 µs, a Go timer on Linux
// sleeps about 1.1 ms when the process is otherwise idle (the netpoller's
// timeout is in whole milliseconds), so polled times are late by up to ~1 ms.
// Latencies therefore never rest on a polled time: "durable" is notified.
const benchPoll = 100 * time.Microsecond

type benchOpts struct {
	durability chain.Durability
	signed     bool
	sessions   int // BROKER1..BROKERn
}

type benchTap struct {
	log  *chain.Log
	tap  *Tap
	acc  *quickfix.Acceptor
	addr string
}

func benchPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// acceptorSettings is the acceptor's session file: one [SESSION] per
// sender, TAP ← BROKER1..BROKERn, FIX.4.4.
func acceptorSettings(tb testing.TB, port, sessions int) *quickfix.Settings {
	tb.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, `
[DEFAULT]
SocketAcceptPort=%d
SocketAcceptHost=127.0.0.1
SenderCompID=TAP
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00
ResetOnLogon=N
ResetOnLogout=N
ResetOnDisconnect=N
PersistMessages=N
ValidateFieldsHaveValues=N
ValidateFieldsOutOfOrder=N
CheckLatency=N
UseDataDictionary=N
`, port)
	for i := 1; i <= sessions; i++ {
		fmt.Fprintf(&sb, "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=BROKER%d\n", i)
	}
	s, err := quickfix.ParseSettings(strings.NewReader(sb.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// startBenchTap is startTap with a choice of durability, signing (a fresh
// Ed25519 key) and number of sessions. It stops with the benchmark.
func startBenchTap(b *testing.B, o benchOpts) *benchTap {
	b.Helper()
	l, tp := newBenchLogTap(b, o.durability, o.signed)
	port := benchPort(b)
	acc, err := quickfix.NewAcceptor(tp, tp.Stores(), acceptorSettings(b, port, o.sessions), tp.Logs())
	if err != nil {
		b.Fatal(err)
	}
	if err := acc.Start(); err != nil {
		b.Fatal(err)
	}
	awaitSessionLoops()
	heapFloor(b)
	h := &benchTap{log: l, tap: tp, acc: acc, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	b.Cleanup(acc.Stop) // before newBenchLogTap's cleanup: cleanups run last-in first-out
	return h
}

// heapFloor runs, until the benchmark ends, the heap floor `fixtap run`
// runs (internal/gcfloor), so the tap is measured as it is deployed. The
// plain quickfixgo references run without it, as a firm's own acceptor
// would.
func heapFloor(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gcfloor.Run(ctx, gcfloor.DefaultConfig(), os.Getenv) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, gcfloor.ErrOperatorGOGC) {
			b.Error(err)
		}
	})
}

// newBenchLogTap opens a real chain log in a temporary directory (signing
// with a fresh Ed25519 key when signed) and a Tap over it; both close when
// the benchmark ends.
func newBenchLogTap(b *testing.B, durability chain.Durability, signed bool) (*chain.Log, *Tap) {
	b.Helper()
	cfg := chain.DefaultConfig(b.TempDir())
	cfg.Logger = quiet()
	cfg.TailCheck = -1
	cfg.Durability = durability
	if signed {
		priv, err := chain.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Signer = chain.NewSigner(priv)
	}
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	mc := fixmap.DefaultConfig()
	mc.AccountSecret = []byte("0123456789abcdef0123")
	tp, err := New(Config{Log: l, Clock: testClock{}, Mapper: mc, VenueID: "XTST", Logger: quiet(),
		Policy: chain.PolicyIdentification{Version: "1.1", PolicyID: "bench", ConformanceTier: "SILVER",
			RegistrationPolicy: chain.RegistrationPolicy{Issuer: "bench"}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		tp.Close()
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	})
	return l, tp
}

// awaitSessionLoops waits until a started acceptor's sessions process
// messages: quickfixgo's session loop first sleeps to the next whole second
// (session.go, run), so a Logon right after Start waits up to 1 s, which
// is no part of the tap's cost.
func awaitSessionLoops() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
}

func benchSessionID(i int) quickfix.SessionID {
	return quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "TAP", TargetCompID: fmt.Sprintf("BROKER%d", i)}
}

func loadgenConfig(addr string, i, count, rate int, now func() time.Time) loadgen.Config {
	return loadgen.Config{Addr: addr, BeginString: "FIX.4.4", SenderCompID: fmt.Sprintf("BROKER%d", i), TargetCompID: "TAP",
		Count: count, Rate: rate, ResetSeqNum: true, Seed: uint64(i), Now: now}
}

// runSenders runs one loadgen per session concurrently, count messages each.
func runSenders(b *testing.B, addr string, sessions, count, rate int, now func() time.Time) {
	b.Helper()
	errs := make([]error, sessions)
	var wg sync.WaitGroup
	for i := 1; i <= sessions; i++ {
		wg.Go(func() {
			st, err := loadgen.Run(context.Background(), loadgenConfig(addr, i, count, rate, now))
			if err == nil && st.Sent != count {
				err = fmt.Errorf("sent %d of %d", st.Sent, count)
			}
			errs[i-1] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("loadgen BROKER%d: %v", i+1, err)
		}
	}
}

// benchMark is one observed change of the log's watermarks.
type benchMark struct {
	at                         time.Time
	durable, signed, committed uint64
}

// watermarkRecorder keeps every change of the log's watermarks: the durable
// one as notified (a goroutine waits in WaitDurable for the next advance), the
// signed one and, optionally, the committed one polled every benchPoll.
type watermarkRecorder struct {
	l *chain.Log
	// committed: also poll the committed log size (a Pebble read per poll),
	// to split latency into "wire → committed" and "committed → durable".
	committed bool
	stop      atomic.Bool
	cancel    context.CancelFunc
	done      sync.WaitGroup
	durables  []benchMark // notified: durable set
	marks     []benchMark // polled: signed and committed set
}

func recordWatermarks(l *chain.Log, committed bool) *watermarkRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &watermarkRecorder{l: l, committed: committed, cancel: cancel}
	r.done.Go(func() {
		for d := l.Durable(); ; {
			if err := l.WaitDurable(ctx, d+1); err != nil {
				return // finished, or the log stopped
			}
			d = l.Durable()
			r.durables = append(r.durables, benchMark{at: time.Now(), durable: d})
		}
	})
	r.done.Go(func() {
		var last benchMark
		sample := func() {
			s, c := l.Signed(), uint64(0)
			if committed {
				c = logHead(l)
			}
			if s != last.signed || c != last.committed {
				last = benchMark{at: time.Now(), signed: s, committed: c}
				r.marks = append(r.marks, last)
			}
		}
		for !r.stop.Load() {
			sample()
			time.Sleep(benchPoll)
		}
		sample() // what became true during the last sleep
	})
	return r
}

// finish stops the recorder; it may be called more than once.
func (r *watermarkRecorder) finish() {
	r.stop.Store(true)
	r.cancel()
	r.done.Wait()
}

// durableAt is when seq became durable (and, if signed, was seen signed):
// the zero time if the recorder never saw it.
func (r *watermarkRecorder) durableAt(seq uint64, signed bool) time.Time {
	var at time.Time
	// durables is in watermark order: one entry per group commit.
	if i := sort.Search(len(r.durables), func(i int) bool { return r.durables[i].durable > seq }); i < len(r.durables) {
		at = r.durables[i].at
	}
	if at.IsZero() || !signed {
		return at
	}
	for _, m := range r.marks {
		if m.signed > seq {
			if m.at.After(at) {
				return m.at
			}
			return at
		}
	}
	return time.Time{}
}

// committedAt is when the recorder first saw seq committed (applied to
// Pebble, perhaps not yet fsync'd); only with committed polling.
func (r *watermarkRecorder) committedAt(seq uint64) time.Time {
	for _, m := range r.marks {
		if m.committed > seq {
			return m.at
		}
	}
	return time.Time{}
}

// logHead is the committed log size, which every group commit writes to
// "mhead" (chain/keys.go).
func logHead(l *chain.Log) uint64 {
	v, closer, err := l.DB().Get([]byte("mhead"))
	if err != nil {
		return 0
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v)
}

func isAdmin(msgType string) bool {
	switch msgType {
	case "0", "1", "2", "3", "4", "5", "A":
		return true
	}
	return false
}

// settleLog waits, after the senders are done (so the tap has appended every
// event), until the log is quiet: every committed event durable and nothing
// new for 50 ms. It returns the log size. It only sleeps and reads two
// counters, so it takes no CPU from the pipeline it waits for.
func settleLog(b *testing.B, l *chain.Log) uint64 {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var prev uint64
	for quiet := 0; quiet < 10; {
		time.Sleep(5 * time.Millisecond)
		d, head := l.Durable(), logHead(l)
		if d == head && d == prev {
			quiet++
		} else {
			quiet = 0
		}
		prev = d
		if time.Now().After(deadline) {
			b.Fatalf("the log did not settle in 60s: durable %d, committed %d", d, head)
		}
	}
	return prev
}

// lastAppSeqs settles the log and returns the highest log seq among the
// sessions' last application events (MsgSeqNum count+1: the Logon is 1),
// checking that every session has one. It scans back from the end; the
// sessions end close together, so the scan is short.
func lastAppSeqs(b *testing.B, l *chain.Log, sessions, count int) uint64 {
	b.Helper()
	want := map[string]bool{}
	for i := 1; i <= sessions; i++ {
		want[benchSessionID(i).String()] = true
	}
	found := map[string]uint64{}
	for seq := settleLog(b, l); seq > 0 && len(found) < len(want); seq-- {
		r, err := l.Get(seq - 1)
		if err != nil {
			b.Fatal(err)
		}
		e, err := r.Event()
		if err != nil {
			b.Fatal(err)
		}
		f := e.Payload.FIX
		if f == nil || !want[f.SessionID] || isAdmin(f.MsgType) || f.MsgSeqNum != int64(count+1) {
			continue
		}
		if _, ok := found[f.SessionID]; !ok {
			found[f.SessionID] = seq - 1
		}
	}
	if len(found) != len(want) {
		b.Fatalf("the last application event of %d of %d sessions is missing", len(want)-len(found), len(want))
	}
	return slices.Max(slices.Collect(maps.Values(found)))
}

// benchTapThroughput sends b.N messages (split evenly over the sessions,
// rounded up) at maximum rate and
// reports ER/s from the first send until every event is durable (and signed).
func benchTapThroughput(b *testing.B, o benchOpts) {
	h := startBenchTap(b, o)
	rec := recordWatermarks(h.log, false)
	defer rec.finish()
	per := (b.N + o.sessions - 1) / o.sessions // messages per session
	b.ResetTimer()
	start := time.Now()
	runSenders(b, h.addr, o.sessions, per, 0, time.Now)
	last := lastAppSeqs(b, h.log, o.sessions, per)
	if o.signed {
		if err := h.log.WaitSigned(context.Background(), last+1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	time.Sleep(2 * benchPoll)
	rec.finish()
	end := rec.durableAt(last, o.signed)
	if end.IsZero() {
		b.Fatalf("the recorder never saw seq %d durable", last)
	}
	el := end.Sub(start)
	total := per * o.sessions
	b.ReportMetric(float64(el.Nanoseconds())/float64(total), "ns/op")
	b.ReportMetric(float64(total)/el.Seconds(), "ER/s")
}

// BenchmarkTapOneSession: one loadgen session at maximum rate into the tap.
func BenchmarkTapOneSession(b *testing.B) {
	for _, d := range []chain.Durability{chain.SyncInterval, chain.SyncPerGroup} {
		b.Run(d.String(), func(b *testing.B) {
			for _, signed := range []bool{true, false} {
				name := "unsigned"
				if signed {
					name = "signed"
				}
				b.Run(name, func(b *testing.B) {
					benchTapThroughput(b, benchOpts{durability: d, signed: signed, sessions: 1})
				})
			}
		})
	}
}

// BenchmarkTapEightSessions: 8 concurrent loadgen sessions, b.N/8 messages
// each, fsync per group, signing on; aggregate ER/s.
func BenchmarkTapEightSessions(b *testing.B) {
	benchTapThroughput(b, benchOpts{durability: chain.SyncPerGroup, signed: true, sessions: 8})
}

// sendClock is loadgen's Now: it records the time of each call made to
// stamp a message's SendingTime (loadgen calls Now once per message it
// frames, just before appending it to the batch it flushes), so times[i] is
// when MsgSeqNum i+1 was framed. Other calls (rate pacing, deadlines) are
// told apart by their caller.
type sendClock struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *sendClock) Now() time.Time {
	t := time.Now()
	var pcs [4]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "loadgen.(*sender).sendingTime") {
			c.mu.Lock()
			c.times = append(c.times, t)
			c.mu.Unlock()
			break
		}
		if !more {
			break
		}
	}
	return t
}

// benchTapLatency: one session at a fixed rate (BenchmarkTapLatency in
// bench_compare_test.go: 1k, 10k, 30k ER/s), fsync per group, signing on;
// p50/p99/p999 from framing of the message in loadgen to its event durable
// (signatures not awaited: they are not part of the chain's durability).
// Sends max(b.N, rate/2) messages.
func benchTapLatency(b *testing.B, rate int) {
	n := max(b.N, rate/2) // at least 0.5 s of sending
	h := startBenchTap(b, benchOpts{durability: chain.SyncPerGroup, signed: true, sessions: 1})
	clk := &sendClock{times: make([]time.Time, 0, n+16)}
	rec := recordWatermarks(h.log, true)
	defer rec.finish()
	b.ResetTimer()
	start := time.Now()
	runSenders(b, h.addr, 1, n, rate, clk.Now)
	last := lastAppSeqs(b, h.log, 1, n)
	b.StopTimer()
	sendEnd := clk.times[len(clk.times)-1]
	time.Sleep(2 * benchPoll)
	rec.finish()

	sid := benchSessionID(1).String()
	lat := make([]time.Duration, 0, n)
	wc := make([]time.Duration, 0, n) // wire → committed
	var badStamp int
	err := h.log.Range(0, last+1, func(r *chain.Record) error {
		e, err := r.Event()
		if err != nil {
			return err
		}
		f := e.Payload.FIX
		if f == nil || f.SessionID != sid || isAdmin(f.MsgType) {
			return nil
		}
		i := int(f.MsgSeqNum) - 1
		if i < 0 || i >= len(clk.times) {
			return fmt.Errorf("MsgSeqNum %d: no send time recorded", f.MsgSeqNum)
		}
		sent := clk.times[i]
		if f.SendingTime != sent.UTC().Format("20060102-15:04:05.000") {
			badStamp++ // the recorded time is not this message's
		}
		at := rec.durableAt(r.Seq, false)
		if at.IsZero() {
			return fmt.Errorf("seq %d never seen durable", r.Seq)
		}
		lat = append(lat, at.Sub(sent))
		if c := rec.committedAt(r.Seq); !c.IsZero() {
			// Committed is polled (up to ~1 ms late), durable notified: a
			// commit is never later than its durability.
			if c.After(at) {
				c = at
			}
			wc = append(wc, c.Sub(sent))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if badStamp > 0 || len(lat) != n {
		b.Fatalf("%d latencies for %d messages, %d SendingTimes not matching the recorded send time", len(lat), n, badStamp)
	}
	slices.Sort(lat)
	slices.Sort(wc)
	q := func(lat []time.Duration, p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(lat, 0.50), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	b.ReportMetric(q(lat, 0.999), "p999-ms")
	b.ReportMetric(q(wc, 0.50), "commit-p50-ms")
	b.ReportMetric(q(wc, 0.99), "commit-p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(n)/sendEnd.Sub(start).Seconds(), "sent-ER/s")
	b.ReportMetric(float64(sendEnd.Sub(start).Nanoseconds())/float64(n), "ns/op")
}

// nullApp is a quickfix Application that does nothing but count
// application messages.
type nullApp struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (*nullApp) OnCreate(quickfix.SessionID)                   {}
func (*nullApp) OnLogon(quickfix.SessionID)                    {}
func (*nullApp) OnLogout(quickfix.SessionID)                   {}
func (*nullApp) ToAdmin(*quickfix.Message, quickfix.SessionID) {}
func (*nullApp) ToApp(*quickfix.Message, quickfix.SessionID) error {
	return nil
}
func (*nullApp) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}
func (a *nullApp) FromApp(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	if a.n.Add(1) == a.want {
		close(a.done)
	}
	return nil
}

// BenchmarkQuickfixReference: the plain quickfixgo acceptor (memory store,
// null log, an Application that does nothing) under the same loadgen stream
// as BenchmarkTapOneSession; ER/s from the first send until the
// Application has received every message.
func BenchmarkQuickfixReference(b *testing.B) {
	port := benchPort(b)
	benchReference(b, port, acceptorSettings(b, port, 1), quickfix.NewMemoryStoreFactory()) // bench_compare_test.go
}

// latencyApp records when the Application receives each MsgSeqNum.
type latencyApp struct {
	nullApp
	mu sync.Mutex
	at map[int]time.Time
}

func (a *latencyApp) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	now := time.Now()
	seq, _ := m.Header.GetInt(34)
	a.mu.Lock()
	a.at[seq] = now
	a.mu.Unlock()
	return nil
}

// benchReferenceLatency: the plain quickfixgo acceptor of
// BenchmarkQuickfixReference under benchTapLatency's stream (one session,
// the given rate, max(b.N, rate/2) messages); p50/p99/p999 from framing in
// loadgen to the Application's FromApp: the floor of the tap's latency.
func benchReferenceLatency(b *testing.B, rate int) {
	n := max(b.N, rate/2) // at least 0.5 s of sending
	app := &latencyApp{at: make(map[int]time.Time, n+4)}
	port := benchPort(b)
	acc, err := quickfix.NewAcceptor(app, quickfix.NewMemoryStoreFactory(), acceptorSettings(b, port, 1), quickfix.NewNullLogFactory())
	if err != nil {
		b.Fatal(err)
	}
	if err := acc.Start(); err != nil {
		b.Fatal(err)
	}
	defer acc.Stop()
	awaitSessionLoops()
	clk := &sendClock{times: make([]time.Time, 0, n+16)}
	b.ResetTimer()
	start := time.Now()
	// loadgen logs out only after a TestRequest answered behind every
	// message, so FromApp has seen them all when it returns.
	runSenders(b, fmt.Sprintf("127.0.0.1:%d", port), 1, n, rate, clk.Now)
	b.StopTimer()
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.at) != n {
		b.Fatalf("the acceptor received %d of %d messages", len(app.at), n)
	}
	lat := make([]time.Duration, 0, n)
	for seq, at := range app.at {
		lat = append(lat, at.Sub(clk.times[seq-1]))
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(0.999), "p999-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	sendEnd := clk.times[len(clk.times)-1]
	b.ReportMetric(float64(sendEnd.Sub(start).Nanoseconds())/float64(n), "ns/op")
}
