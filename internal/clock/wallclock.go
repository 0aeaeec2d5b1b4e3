package clock

import (
	"sync"
	"time"
)

// The capture time of an event is read as CLOCK_MONOTONIC plus an offset
// to CLOCK_REALTIME, not as CLOCK_REALTIME itself.
//
// Why: time.Now reads both clocks through the vDSO (~48 ns on the
// reference VM); one monotonic read is ~26 ns, and the per-event stamp
// must cost at most 50 ns (issue 4).
//
// Why it is exact: Linux keeps CLOCK_REALTIME = CLOCK_MONOTONIC +
// offs_real, and both advance at the same NTP-disciplined rate; a slew
// (adjtimex ADJ_OFFSET/ADJ_FREQUENCY, chronyd's normal correction) changes
// both alike. offs_real changes only when the clock is *set*:
// clock_settime/settimeofday, adjtimex ADJ_SETOFFSET (chronyd's makestep),
// a leap second applied by the kernel, resume from suspend. Every one of
// those calls the kernel's clock_was_set(), which cancels each timerfd
// armed with TFD_TIMER_CANCEL_ON_SET (timerfd_create(2)).
//
// So the offset is measured once (offsetSample), re-measured the moment
// a timerfd reports a set (stepwatch_linux.go), and cross-checked on
// every poll: a poll that finds it moved by more than stepTolerance
// re-anchors too, which bounds a step missed by the watcher (a platform
// without timerfd) to one PollInterval. Events stamped between a step and
// the re-anchor — microseconds with the watcher — carry the clock as it
// read before the step; each step is recorded in the next snapshot's
// evidence (Wall) and forces an SNC event.

// origin is the monotonic zero of this process's monoNow.
var origin = time.Now()

// monoNow reads CLOCK_MONOTONIC (one vDSO call), in ns since origin.
func monoNow() int64 { return int64(time.Since(origin)) }

// monoOf is t's monotonic reading in ns since origin (t must come from
// time.Now; otherwise its wall reading is used).
func monoOf(t time.Time) int64 { return int64(t.Sub(origin)) }

// offsetSamples is how many bracketed readings offsetSample takes.
const offsetSamples = 16

// stepTolerance is how far a poll's offset sample may differ from the
// anchored offset before the poll treats it as a step. Samples agree to
// tens of ns (the bracket of two vDSO reads); a real step is far larger.
const stepTolerance = 1000 // ns

// offsetSample measures CLOCK_REALTIME − CLOCK_MONOTONIC (as monoNow
// counts it). time.Now reads the wall clock, then the monotonic one, so a
// monotonic read before it brackets the wall reading; the tightest of
// offsetSamples brackets wins, and half its width bounds the error.
func offsetSample() (offsetNs, uncertaintyNs int64) {
	best := int64(-1)
	for range offsetSamples {
		m1 := monoNow()
		t := time.Now()
		m2 := monoOf(t)
		if w := m2 - m1; best < 0 || w < best {
			best = w
			offsetNs = t.UnixNano() - (m1+m2)/2
		}
	}
	return offsetNs, (best + 1) / 2
}

// WallState is how the capture clock is anchored to CLOCK_REALTIME, as
// of a snapshot: evidence that the stamps follow the system clock.
type WallState struct {
	// Detection is how steps of CLOCK_REALTIME are noticed: "timerfd"
	// (TFD_TIMER_CANCEL_ON_SET, at once) or "poll" (the next poll's
	// cross-check, within PollInterval).
	Detection string
	// OffsetNs is CLOCK_REALTIME − CLOCK_MONOTONIC as anchored, and
	// UncertaintyNs the half-width of the bracket it was measured in.
	OffsetNs, UncertaintyNs int64
	// Steps counts the re-anchors since the clock started; LastStepNs is
	// the size of the newest (new offset − old), LastStepAt its wall time
	// (ns since the epoch) and LastStepBy what noticed it ("timerfd" or
	// "poll").
	Steps      uint64
	LastStepNs int64
	LastStepAt int64
	LastStepBy string
}

// wallAnchor owns the anchored offset's bookkeeping. The offset itself
// lives in Clock.off, an atomic the per-event path loads; the rest is
// read only by the poller, under mu.
type wallAnchor struct {
	mu    sync.Mutex
	state WallState
}

// reanchor re-measures the offset. by says who asked: "start", "timerfd"
// or "poll". A "poll" within stepTolerance of the current offset keeps
// the current one (it only confirms it) and reports false; otherwise the
// new offset is published through set and a step recorded (except at
// "start"), reporting true.
func (a *wallAnchor) reanchor(by string, set func(int64)) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	off, unc := offsetSample()
	d := off - a.state.OffsetNs
	if by == "poll" && d <= stepTolerance && d >= -stepTolerance {
		return false
	}
	if by != "start" {
		a.state.Steps++
		a.state.LastStepNs = d
		a.state.LastStepAt = monoNow() + off
		a.state.LastStepBy = by
	}
	a.state.OffsetNs, a.state.UncertaintyNs = off, unc
	set(off)
	return by != "start"
}

func (a *wallAnchor) snapshot() WallState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}
