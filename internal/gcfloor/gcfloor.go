// Package gcfloor keeps Go's garbage collector from running before the heap
// has reached a floor size.
//
// Why: the tap's live heap is small (a few MiB: Pebble keeps its memtables
// and block cache outside the Go heap) while every message allocates several
// KiB (quickfixgo's parse alone ~4 KiB). With the default GOGC=100 the heap
// goal is twice the live heap, ~4–8 MiB, so at 10k messages/s the collector
// runs ~20 times a second. Each cycle takes a share of the two cores for its
// mark phase and makes allocating goroutines assist, and a message that
// arrives during one waits: on the reference machine the cycles cover ~1 %
// of the time, which is exactly where the p99 of wire → durable sits
// (docs/performance.md, "Where the p99 at 10k ER/s was going"). A floor of 64 MiB makes the
// collector run ~1 time a second at that rate.
//
// How: the runtime has no setting for a minimum heap goal, but its pacer
// (runtime/mgcpacer.go) already has one that scales with GOGC. For a
// percentage p the heap goal is
//
//	goal = max(4 MiB × p/100, live + (live + stacks + globals) × p/100)
//
// so every Interval the percentage is recomputed from the last cycle's live
// heap (runtime/metrics) as the smallest p that puts the goal at the floor:
//
//	p = min(100 × Floor / 4 MiB,  100 × (Floor − live) / (live + stacks + globals))
//
// and never below the percentage in force before Run (normally 100): once
// the live heap is above half the floor, the collector behaves as if the
// package were not there. The first term bounds p (1600 for 64 MiB); were a
// future runtime to drop the scaled minimum, the second term still reaches
// the floor, and the first would only make cycles more frequent, never the
// heap larger. (The collector starts a little before the goal, so "no cycle
// before 64 MiB" is really "none before about 60".) Memory cost: the heap
// may hold up to about Floor of garbage instead of ~live, so RSS grows by
// about Floor — briefly more if the live heap jumps (see Run).
//
// An operator's GOGC (the environment variable) always wins: Run does
// nothing when it is set. GOMEMLIMIT, if set, still caps the heap as usual.
package gcfloor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Config is the floor and how often it is re-applied.
type Config struct {
	// Floor is the heap size (bytes) below which the collector should not
	// run. Zero disables the floor.
	Floor uint64
	// Interval is how often the GC percentage is recomputed. Between two
	// recomputations the heap can outgrow the intended goal by at most what
	// is allocated in one Interval.
	Interval time.Duration
}

// DefaultConfig is a 64 MiB floor re-applied every 100 ms.
func DefaultConfig() Config {
	return Config{Floor: 64 << 20, Interval: 100 * time.Millisecond}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Floor != 0 && c.Floor < minHeap:
		return fmt.Errorf("gcfloor: floor %d bytes is below 4 MiB, the runtime's own minimum heap goal", c.Floor)
	case c.Floor > 1<<40:
		return fmt.Errorf("gcfloor: floor %d bytes is above 1 TiB", c.Floor)
	case c.Interval < time.Millisecond || c.Interval > time.Minute:
		return fmt.Errorf("gcfloor: interval %v is outside [1ms, 1m]", c.Interval)
	}
	return nil
}

// ErrOperatorGOGC is returned by Run when GOGC is set in the environment:
// the operator's setting is left alone.
var ErrOperatorGOGC = errors.New("gcfloor: GOGC is set in the environment; the heap floor is off")

// ErrRunning is returned by Run when another Run is active in the process:
// the GC percentage is process-wide, and two floors would each take the
// other's raised percentage for the one to restore.
var ErrRunning = errors.New("gcfloor: a heap floor is already running in this process")

// running guards the process-wide GC percentage.
var running atomic.Bool

// Run applies the floor until ctx is done, then restores the GC percentage
// that was in force before and returns nil. getenv is os.Getenv (a
// parameter so tests can set the environment without touching the
// process's). It returns at once with ErrOperatorGOGC when GOGC is set,
// with ErrRunning when another Run is active, and with nil when the floor
// is zero or the collector is off.
//
// The percentage is recomputed every Interval and right after every GC
// cycle: the runtime sets the next goal at the end of a cycle with the
// percentage then in force, so if the live heap has grown a lot since the
// last recomputation, that goal overshoots (live × 17 at the 64 MiB
// floor's 1600 %) until the recomputation that follows the cycle, which a
// finalizer wakes (TestLiveHeapGrowthLowersPercent).
func Run(ctx context.Context, cfg Config, getenv func(string) string) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if getenv("GOGC") != "" {
		return ErrOperatorGOGC
	}
	if cfg.Floor == 0 {
		return nil
	}
	if !running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer running.Store(false)
	samples := []metrics.Sample{
		{Name: "/gc/gogc:percent"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}
	metrics.Read(samples[:1])
	if value(samples[0]) > math.MaxInt32 {
		return nil // collector off (GOGC=off reads as 2^64−1): nothing to raise
	}
	base := int(value(samples[0]))
	defer debug.SetGCPercent(base)

	cycles := make(chan struct{}, 1)
	var stop atomic.Bool
	defer stop.Store(true)
	onCycle(cycles, &stop)

	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		metrics.Read(samples)
		p := Percent(cfg.Floor, value(samples[1]), value(samples[2])+value(samples[3]), base)
		if uint64(p) != value(samples[0]) {
			debug.SetGCPercent(p)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-cycles:
		}
	}
}

// onCycle sends on ch (without blocking) after each GC cycle until stop is
// set: a finalizer on an unreachable sentinel runs once the cycle has found
// it garbage, and re-arms itself with a new one.
func onCycle(ch chan<- struct{}, stop *atomic.Bool) {
	s := new([16]byte) // not tiny-allocated: a finalizer needs its own object
	runtime.SetFinalizer(s, func(*[16]byte) {
		if stop.Load() {
			return
		}
		select {
		case ch <- struct{}{}:
		default:
		}
		onCycle(ch, stop)
	})
}

func value(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// minHeap is the runtime's minimum heap goal at GOGC=100
// (defaultHeapMinimum in runtime/mgcpacer.go), scaled by GOGC/100.
const minHeap = 4 << 20

// Percent is the smallest GC percentage that puts the heap goal at the
// floor, given the last cycle's live heap and the stacks and globals the
// collector scans (see the package comment); never below base, the
// percentage without a floor. Before the first cycle (live 0) only the
// runtime's scaled minimum counts.
func Percent(floor, live, scan uint64, base int) int {
	p := 100 * floor / minHeap
	if live > 0 {
		if floor <= live {
			return base
		}
		p = min(p, 100*(floor-live)/(live+scan))
	}
	if p < uint64(base) {
		return base
	}
	return int(p)
}
