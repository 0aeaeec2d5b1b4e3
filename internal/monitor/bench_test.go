package monitor

import (
	"context"
	"testing"
	"time"
)

// BenchmarkFullRound: one round that checks every entry, tile and event of
// one replica of 65,536 events served over loopback HTTP by net/http's
// file server (b.N rounds, each by a monitor without state, -full).
func BenchmarkFullRound(b *testing.B) {
	const n = 1 << 16
	l := newTestLog(b)
	clk := &fakeClock{t: t0}
	l.addRun(n, true, t0.Add(-n*time.Millisecond), time.Millisecond)
	urls, dirs := replicas(b, 1)
	l.publish(dirs[0], 0, n)
	b.ResetTimer()
	for range b.N {
		m := newMonitor(b, l, clk, urls, Config{Full: true, Logger: quiet})
		rep, err := m.Round(context.Background())
		if err != nil || !rep.OK() {
			b.Fatalf("%v\n%s", err, rep)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
}
