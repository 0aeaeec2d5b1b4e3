package tap

// Benchmarks for the side-by-side comparison (issue 8, cmd/fixtap-bench):
// the plain quickfixgo acceptor with each of its stores, and the tap's and
// the reference's latency at fixed rates. They reuse the stream, the
// acceptor settings and the timing of bench_test.go.
//
//	GOTOOLCHAIN=local go test -run '^$' -bench 'QuickfixFileStore|Latency/' -benchtime 20000x ./internal/tap

import (
	"fmt"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/quickfix/store/file"
)

// benchRates are the fixed offered rates of the latency benchmarks, ER/s.
var benchRates = []int{1000, 10000, 30000}

func rateName(r int) string { return fmt.Sprintf("%dk", r/1000) }

// BenchmarkTapLatency: BenchmarkTapLatency10k's measurement (one session,
// fsync per group, signing on; framing in loadgen → event durable) at each
// of benchRates, max(b.N, rate/2) messages each.
func BenchmarkTapLatency(b *testing.B) {
	for _, r := range benchRates {
		b.Run(rateName(r), func(b *testing.B) { benchTapLatency(b, r) })
	}
}

// BenchmarkQuickfixReferenceLatency: the plain acceptor (memory store, null
// log) under the same streams as BenchmarkTapLatency; framing → FromApp.
func BenchmarkQuickfixReferenceLatency(b *testing.B) {
	for _, r := range benchRates {
		b.Run(rateName(r), func(b *testing.B) { benchReferenceLatency(b, r) })
	}
}

// BenchmarkQuickfixFileStore: BenchmarkQuickfixReference with quickfixgo's
// FileStore (store/file) instead of the memory store. For an acceptor the
// store writes the next expected incoming MsgSeqNum on every message:
// "nosync" is FileStoreSync=N (a write(2) per message, no fsync),
// "default" leaves FileStoreSync unset, which quickfixgo takes as Y (an
// fsync per message, the store's default durability).
func BenchmarkQuickfixFileStore(b *testing.B) {
	for _, c := range []struct {
		name string
		sync string // "" = unset
	}{{"nosync", "N"}, {"default", ""}} {
		b.Run(c.name, func(b *testing.B) {
			port := benchPort(b)
			st := acceptorSettings(b, port, 1)
			st.GlobalSettings().Set(config.FileStorePath, b.TempDir())
			if c.sync != "" {
				st.GlobalSettings().Set(config.FileStoreSync, c.sync)
			}
			benchReference(b, port, st, file.NewStoreFactory(st))
		})
	}
}

// benchReference is BenchmarkQuickfixReference's measurement with a given
// store: b.N messages at maximum rate, ER/s from the first send until the
// null Application has received every message.
func benchReference(b *testing.B, port int, st *quickfix.Settings, store quickfix.MessageStoreFactory) {
	app := &nullApp{want: int64(b.N), done: make(chan struct{})}
	acc, err := quickfix.NewAcceptor(app, store, st, quickfix.NewNullLogFactory())
	if err != nil {
		b.Fatal(err)
	}
	if err := acc.Start(); err != nil {
		b.Fatal(err)
	}
	defer acc.Stop()
	awaitSessionLoops()
	b.ResetTimer()
	start := time.Now()
	var end time.Time
	got := make(chan struct{})
	go func() {
		<-app.done
		end = time.Now()
		close(got)
	}()
	runSenders(b, fmt.Sprintf("127.0.0.1:%d", port), 1, b.N, 0, time.Now)
	select {
	case <-got:
	case <-time.After(60 * time.Second):
		b.Fatalf("the acceptor received %d of %d messages", app.n.Load(), b.N)
	}
	b.StopTimer()
	el := end.Sub(start)
	b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(b.N)/el.Seconds(), "ER/s")
}
