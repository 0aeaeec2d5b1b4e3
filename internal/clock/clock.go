package clock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// Config configures a Clock. The zero value polls nothing and so reports
// UNRELIABLE forever, which is the honest answer for a host with no daemon.
type Config struct {
	// Thresholds of the status rules; the zero value means Defaults().
	Thresholds Thresholds
	// Chrony, when non-nil, is the chronyd to measure.
	Chrony *ChronyConfig
	// PTP, when non-nil, is the ptp4l to measure. Its offset is that of the
	// clock ptp4l disciplines: the system clock only with software
	// timestamping (or with phc2sys running, which is not measured here).
	PTP *PTPConfig
	// Adjtimex reads the kernel's clock state (read-only) into every
	// snapshot as evidence. It does not change the status.
	Adjtimex bool
	// PollInterval is the time between measurements. Default 1 s; at most
	// 1 s, so that a snapshot is never older than the profile's "about once
	// a second".
	PollInterval time.Duration
	// PeriodicEvery is the longest time between two Notices: a snapshot is
	// reported at least this often even if nothing changed. Default and
	// maximum 1 minute (vcp-profile §5).
	PeriodicEvery time.Duration
	// Notify, when non-nil, receives every Notice in order: the first one
	// (the initial snapshot) from within New, the rest on the poller
	// goroutine. It must return promptly: while it runs no new measurement
	// is published, and once the published snapshot is older than
	// Thresholds.MaxSnapshotAge every Stamp says UNRELIABLE.
	Notify func(Notice)
}

func (c Config) withDefaults() Config {
	if c.Thresholds == (Thresholds{}) {
		c.Thresholds = Defaults()
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.PeriodicEvery == 0 {
		c.PeriodicEvery = time.Minute
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.Thresholds.Validate(); err != nil {
		return err
	}
	if c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Second {
		return fmt.Errorf("%w: PollInterval %v not in [10ms, 1s]", ErrConfig, c.PollInterval)
	}
	if c.PeriodicEvery < c.PollInterval || c.PeriodicEvery > time.Minute {
		return fmt.Errorf("%w: PeriodicEvery %v not in [PollInterval, 1m]", ErrConfig, c.PeriodicEvery)
	}
	if c.Chrony != nil {
		if err := c.Chrony.Validate(); err != nil {
			return err
		}
	}
	if c.PTP != nil {
		if err := c.PTP.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot is one published measurement and the status derived from it.
// It is immutable once published; share the pointer freely.
type Snapshot struct {
	RuleVersion string
	// Seq numbers the snapshots of one Clock from 1.
	Seq uint64
	Measurement
	Result
	// Thresholds the status was derived under.
	Thresholds Thresholds

	block     chain.Clock // the event block, SnapshotAgeMs left 0
	takenMono int64       // Taken as monoNow counts it, for Stamp's age
}

// ClockBlock returns the Payload.Clock block of the snapshot as of its own
// measurement (SnapshotAgeMs 0). Stamp fills in the age.
func (s *Snapshot) ClockBlock() chain.Clock { return s.block }

func newSnapshot(seq uint64, th Thresholds, m Measurement, r Result) *Snapshot {
	s := &Snapshot{RuleVersion: RuleVersion, Seq: seq, Measurement: m, Result: r, Thresholds: th, takenMono: monoOf(m.Taken)}
	s.block = chain.Clock{Source: string(r.Source), MaxErrorNs: boundString(r.MaxErrorNs)}
	return s
}

// boundString is the event form of a bound: decimal ns, "" if unknown.
func boundString(ns int64) string {
	if ns < 0 {
		return ""
	}
	return strconv.FormatInt(ns, 10)
}

// Stamp is what one event takes from the clock: its capture time and the
// latest measurement, as of that same instant.
type Stamp struct {
	// TimeNs is the capture time, ns since the Unix epoch.
	TimeNs int64
	// Status is the snapshot's status, or UNRELIABLE when the snapshot is
	// older than Thresholds.MaxSnapshotAge.
	Status chain.ClockSyncStatus
	// Clock is the event's Payload.Clock block; SnapshotAgeMs is the age of
	// the snapshot at TimeNs, from the monotonic clock.
	Clock    chain.Clock
	Snapshot *Snapshot
}

// Notice reports a published snapshot to Config.Notify: on every status
// change (write an SNC event), on every degradation (also an ERR_SYNC
// event) and at least every Config.PeriodicEvery (an SNC event).
type Notice struct {
	// Changed: the status differs from the previous snapshot's, or this is
	// the first snapshot (Prev is then "").
	Changed bool
	// Degraded: the status is worse than Prev.
	Degraded bool
	// Periodic: nothing changed but PeriodicEvery has passed since the
	// last Notice.
	Periodic bool
	// Stepped: CLOCK_REALTIME was set (stepped) since the previous
	// snapshot and capture times were re-anchored; Snapshot.Wall says by
	// how much. Reported even when the status did not change.
	Stepped  bool
	Prev     chain.ClockSyncStatus
	Snapshot *Snapshot
}

// Clock measures the host clock in one goroutine and hands out stamps.
type Clock struct {
	cfg    Config
	cur    atomic.Pointer[Snapshot]
	maxAge time.Duration
	// off is CLOCK_REALTIME − monoNow, in ns: a capture time is
	// monoNow()+off (wallclock.go). Written by wall.reanchor.
	off   atomic.Int64
	wall  wallAnchor
	watch *stepWatcher  // nil: steps are found by polls only
	wake  chan struct{} // the watcher asks the poller for a poll now

	chrony *chronySource // nil if not configured
	ptp    *ptpSource    // nil if not configured
	// measure takes one measurement; tests replace it.
	measure func() Measurement

	cancel    context.CancelFunc
	done      chan struct{}
	watchDone chan struct{}
	closeOnce sync.Once
	closeErr  error

	// poller state, owned by the poller goroutine (and New before it starts)
	seq        uint64
	ptpBounds  []int64
	lastNotice time.Time
}

// New validates cfg, takes the first measurement (so Stamp always has a
// measured snapshot) and starts the poller. The poller runs until ctx is
// done or Close is called; either way Close must be called to release the
// daemon connections (and remove the client sockets it bound).
func New(ctx context.Context, cfg Config) (*Clock, error) {
	return newClock(ctx, cfg, nil)
}

// newClock is New with the measurement replaceable (nil: the configured
// sources), for tests of the poller.
func newClock(ctx context.Context, cfg Config, measure func() Measurement) (*Clock, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &Clock{cfg: cfg, maxAge: cfg.Thresholds.MaxSnapshotAge, done: make(chan struct{}),
		wake: make(chan struct{}, 1), watchDone: make(chan struct{})}
	c.wall.reanchor("start", c.off.Store)
	if w, err := newStepWatcher(); err == nil {
		c.watch = w
		c.wall.state.Detection = "timerfd"
	} else {
		c.wall.state.Detection = "poll" // and err is why: no timerfd here
	}
	if cfg.Chrony != nil {
		c.chrony = newChronySource(*cfg.Chrony)
	}
	if cfg.PTP != nil {
		c.ptp = newPTPSource(*cfg.PTP)
	}
	c.measure = measure
	if c.measure == nil {
		c.measure = c.measureSources
	}
	c.pollOnce()
	ctx, c.cancel = context.WithCancel(ctx)
	go c.run(ctx)
	if c.watch != nil {
		go c.watchSteps()
	} else {
		close(c.watchDone)
	}
	return c, nil
}

// Close stops the poller, waits for it to return (so Notify is not called
// after Close returns) and closes the daemon connections. Stamp and Now
// keep working afterwards on the last snapshot, which then ages into
// UNRELIABLE. Close is idempotent.
func (c *Clock) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		var errs []error
		if c.watch != nil {
			errs = append(errs, c.watch.close())
		}
		<-c.watchDone
		if c.chrony != nil {
			errs = append(errs, c.chrony.close())
		}
		if c.ptp != nil {
			errs = append(errs, c.ptp.close())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Now returns the current wall time in ns since the Unix epoch:
// CLOCK_MONOTONIC (one vDSO read, no system call) plus the anchored
// offset to CLOCK_REALTIME, which is re-measured whenever the wall clock
// is set (wallclock.go).
func (c *Clock) Now() int64 { return monoNow() + c.off.Load() }

// Stamp returns the capture time and the latest measurement for one event.
// It reads the monotonic clock once, loads two atomics and does not
// allocate: no system call, no lock.
func (c *Clock) Stamp() Stamp {
	mono := monoNow()
	s := c.cur.Load()
	age := time.Duration(mono - s.takenMono)
	st := s.Status
	if age > c.maxAge {
		st = chain.Unreliable
	}
	b := s.block
	b.SnapshotAgeMs = int64(age / time.Millisecond)
	return Stamp{TimeNs: mono + c.off.Load(), Status: st, Clock: b, Snapshot: s}
}

// watchSteps re-anchors capture times the moment the wall clock is set,
// and asks the poller for a snapshot that records it. It returns when the
// watcher is closed (Close) or fails; polls still cross-check after that.
func (c *Clock) watchSteps() {
	defer close(c.watchDone)
	for {
		if err := c.watch.wait(); err != nil {
			if !errors.Is(err, os.ErrClosed) {
				c.wall.mu.Lock()
				c.wall.state.Detection = "poll" // the watcher died: say so
				c.wall.mu.Unlock()
			}
			return
		}
		c.wall.reanchor("timerfd", c.off.Store)
		select {
		case c.wake <- struct{}{}:
		default: // a poll is already asked for
		}
	}
}

// Snapshot returns the latest published snapshot.
func (c *Clock) Snapshot() *Snapshot { return c.cur.Load() }

func (c *Clock) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.pollOnce()
		case <-c.wake:
			c.pollOnce()
		}
	}
}

// maxPTPBounds is how many PTP bounds the poller keeps for Derive.
const maxPTPBounds = 3600

// measureSources asks every configured source once.
func (c *Clock) measureSources() Measurement {
	var m Measurement
	if c.chrony != nil {
		m.Chrony = c.chrony.poll(time.Now)
	}
	if c.ptp != nil {
		m.PTP = c.ptp.poll(time.Now)
	}
	if c.cfg.Adjtimex {
		m.Adjtimex = readAdjtimex()
	}
	m.Taken = time.Now()
	return m
}

// pollOnce measures, derives, publishes and notifies.
func (c *Clock) pollOnce() {
	m := c.measure()
	c.wall.reanchor("poll", c.off.Store) // the cross-check; a step re-anchors
	w := c.wall.snapshot()
	m.Wall = &w
	if m.PTP != nil && m.PTP.Reachable {
		if len(c.ptpBounds) == maxPTPBounds {
			c.ptpBounds = append(c.ptpBounds[:0], c.ptpBounds[1:]...)
		}
		c.ptpBounds = append(c.ptpBounds, PTPBound(m.PTP))
	} else {
		c.ptpBounds = c.ptpBounds[:0] // a gap breaks "sustained"
	}
	r := Derive(c.cfg.Thresholds, m, c.ptpBounds)
	c.seq++
	s := newSnapshot(c.seq, c.cfg.Thresholds, m, r)
	prev := c.cur.Swap(s)

	n := Notice{Snapshot: s}
	switch {
	case prev == nil:
		n.Changed = true
	default:
		n.Prev = prev.Status
		n.Changed = prev.Status != s.Status
		n.Degraded = Worse(prev.Status, s.Status)
		n.Periodic = !n.Changed && s.Taken.Sub(c.lastNotice) >= c.cfg.PeriodicEvery
		n.Stepped = prev.Wall != nil && w.Steps != prev.Wall.Steps
	}
	if n.Changed || n.Periodic || n.Stepped {
		c.lastNotice = s.Taken
		if c.cfg.Notify != nil {
			c.cfg.Notify(n)
		}
	}
}
