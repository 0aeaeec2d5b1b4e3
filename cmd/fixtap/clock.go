package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// clockAdapter gives the tap what it needs from internal/clock.
type clockAdapter struct{ c *clock.Clock }

func (a clockAdapter) Stamp() (int64, chain.ClockSyncStatus, *chain.Clock) {
	s := a.c.Stamp()
	return s.TimeNs, s.Status, &s.Clock
}

// clockEvents forwards the clock's notices to the tap once it exists; the
// first notice (the initial snapshot) arrives while the clock is created,
// before the tap, and waits here.
type clockEvents struct {
	mu      sync.Mutex
	tap     *tap.Tap
	pending []clock.Notice
}

func (e *clockEvents) notify(n clock.Notice) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tap == nil {
		e.pending = append(e.pending, n)
		return
	}
	deliver(e.tap, n)
}

func (e *clockEvents) attach(t *tap.Tap) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tap = t
	for _, n := range e.pending {
		deliver(t, n)
	}
	e.pending = nil
}

func deliver(t *tap.Tap, n clock.Notice) {
	s := n.Snapshot
	t.ClockEvent(s.Result.Status, n.Prev, n.Degraded, s.Evidence(string(n.Prev)), s.Result.Reason)
}

// openClock starts the clock measurement from the configured sources. The
// status is always measured; a source that is absent is reported, not faked.
func openClock(ctx context.Context, f *tapconfig.File, logger *slog.Logger) (*clock.Clock, *clockEvents, error) {
	ev := &clockEvents{}
	cfg := clock.Config{Notify: ev.notify}
	for _, src := range f.Tap.ClockSources {
		switch src.Kind {
		case "chrony-udp", "chrony-unix":
			cfg.Chrony = &clock.ChronyConfig{Address: src.Addr}
		case "ptp4l":
			cfg.PTP = &clock.PTPConfig{Socket: src.Addr}
		case "adjtimex":
			cfg.Adjtimex = true
		}
	}
	c, err := clock.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	st := c.Stamp()
	logger.Info("clock", "status", st.Status, "source", st.Clock.Source, "max_error_ns", st.Clock.MaxErrorNs)
	return c, ev, nil
}
