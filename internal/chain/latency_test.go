package chain

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestCommitLatency: with Config.Now set, every group commit is measured
// once it is durable, in both durability modes; Committed counts the
// appended events.
func TestCommitLatency(t *testing.T) {
	for _, mode := range []Durability{SyncPerGroup, SyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			// A fake clock that advances 100 µs per reading: each group's
			// latency is a whole number of readings.
			var ticks atomic.Int64
			now := func() time.Time { return time.Unix(0, ticks.Add(int64(100*time.Microsecond))) }
			l, _ := openTestLog(t, func(c *Config) { c.Durability = mode; c.Now = now })
			for i := range 50 {
				if _, _, err := l.AppendWait(context.Background(), testEntry(i)); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.Committed(); got != 50 {
				t.Fatalf("Committed() = %d, want 50", got)
			}
			s := l.CommitLatency()
			// AppendWait returns once Done ran, after the group was measured.
			if s.Count == 0 || s.Count > 50 || s.Sum <= 0 {
				t.Fatalf("latency snapshot %+v after 50 durable appends", s)
			}
			if n := len(s.Cumulative); n != len(CommitLatencyBounds) || s.Cumulative[n-1] > s.Count {
				t.Fatalf("cumulative buckets %v, count %d", s.Cumulative, s.Count)
			}
			for i := 1; i < len(s.Cumulative); i++ {
				if s.Cumulative[i] < s.Cumulative[i-1] {
					t.Fatalf("buckets not cumulative: %v", s.Cumulative)
				}
			}
		})
	}
}

// TestCommitLatencyUnmeasured: without Config.Now nothing is measured.
func TestCommitLatencyUnmeasured(t *testing.T) {
	l, _ := openTestLog(t, nil)
	if _, _, err := l.AppendWait(context.Background(), testEntry(0)); err != nil {
		t.Fatal(err)
	}
	if s := l.CommitLatency(); s.Count != 0 {
		t.Fatalf("measured %+v without Config.Now", s)
	}
}
