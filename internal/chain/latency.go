package chain

import (
	"sync/atomic"
	"time"
)

// CommitLatencyBounds are the upper bounds of the commit-latency histogram's
// buckets: 50 µs doubling to ~1.6 s. An fsync on a datacenter NVMe takes
// tens of µs to a few ms; the top buckets catch a disk in trouble.
var CommitLatencyBounds = func() []time.Duration {
	b := make([]time.Duration, 16)
	for i := range b {
		b[i] = 50 * time.Microsecond << i
	}
	return b
}()

// latencyHist is a lock-free histogram of group-commit latencies, updated
// once per group (never per event) and read at scrape time. The buckets
// are cumulative only when read (LatencySnapshot); each count here is of
// its own bucket.
type latencyHist struct {
	counts [17]atomic.Uint64 // len(CommitLatencyBounds) + the +Inf bucket
	sumNs  atomic.Int64
	n      atomic.Uint64
}

func (h *latencyHist) observe(d time.Duration) {
	i := 0
	for i < len(CommitLatencyBounds) && d > CommitLatencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	h.n.Add(1)
}

// LatencySnapshot is a read of the commit-latency histogram.
type LatencySnapshot struct {
	// Count is the number of group commits measured; Sum their total
	// latency.
	Count uint64
	Sum   time.Duration
	// Cumulative[i] counts the groups that took ≤ CommitLatencyBounds[i].
	Cumulative []uint64
}

// CommitLatency returns the histogram of group-commit latencies: from the
// committer taking a group to the group becoming durable (its fsync done,
// in either Durability mode). Measured only when Config.Now is set. The
// fields are read one by one, so a snapshot taken during a commit may be
// off by that one group.
func (l *Log) CommitLatency() LatencySnapshot {
	s := LatencySnapshot{Cumulative: make([]uint64, len(CommitLatencyBounds))}
	var c uint64
	for i := range s.Cumulative {
		c += l.latency.counts[i].Load()
		s.Cumulative[i] = c
	}
	s.Count = c + l.latency.counts[len(CommitLatencyBounds)].Load()
	s.Sum = time.Duration(l.latency.sumNs.Load())
	return s
}

// Committed returns the log size written to Pebble, durable or not: the
// events appended so far. Durable() ≤ Committed().
func (l *Log) Committed() uint64 { return l.committed.Load() }
