package clock

import (
	"os"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/testenv"
	"golang.org/x/sys/unix"
)

// stepBy steps the system clock by d (whole µs; adjtimex ADJ_SETOFFSET,
// as chronyd's makestep does). It needs CAP_SYS_TIME.
func stepBy(d time.Duration) error {
	us := d.Microseconds()
	sec, rem := us/1_000_000, us%1_000_000
	if rem < 0 { // the kernel wants 0 ≤ usec < 1e6
		sec, rem = sec-1, rem+1_000_000
	}
	tx := unix.Timex{Modes: unix.ADJ_SETOFFSET, Time: unix.Timeval{Sec: sec, Usec: rem}}
	_, err := unix.Adjtimex(&tx)
	return err
}

// waitSteps polls until the clock has recorded n steps.
func waitSteps(t *testing.T, c *Clock, n uint64) *Snapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Snapshot().Wall.Steps < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s := c.Snapshot()
	if s.Wall.Steps != n {
		t.Fatalf("waiting for step %d: Wall = %+v", n, s.Wall)
	}
	return s
}

// TestStepFoundByTimerfd steps the real system clock by +1 µs and back by
// −1 µs (adjtimex ADJ_SETOFFSET; the net change is nil and a microsecond
// disturbs nothing else on the machine) and checks that each set reaches
// the Clock through its TFD_TIMER_CANCEL_ON_SET timerfd: a step recorded
// by "timerfd" with its measured size, a fresh snapshot, and capture
// times on the wall clock after it. (The kernel cancels the timerfd only
// when the offset really changes, so a zero step cannot be used.) It
// needs CAP_SYS_TIME.
func TestStepFoundByTimerfd(t *testing.T) {
	c, err := newClock(t.Context(), Config{}, (&script{next: []func() *ChronyData{freshSynced}}).measure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := c.Snapshot().Wall.Detection; d != "timerfd" {
		t.Fatalf("Detection = %q on Linux, want timerfd", d)
	}
	seq := c.Snapshot().Seq

	if err := stepBy(time.Microsecond); err != nil {
		if err == unix.EPERM {
			testenv.Skip(t, "setting the clock needs CAP_SYS_TIME (uid %d): %v", os.Getuid(), err)
		}
		t.Fatalf("adjtimex(ADJ_SETOFFSET +1µs): %v", err)
	}
	back := true
	defer func() {
		if back {
			stepBy(-time.Microsecond)
		}
	}()
	for i, want := range []int64{1000, -1000} {
		if i == 1 {
			if err := stepBy(-time.Microsecond); err != nil {
				t.Fatalf("adjtimex(ADJ_SETOFFSET -1µs): %v", err)
			}
			back = false
		}
		s := waitSteps(t, c, uint64(i+1))
		w := s.Wall
		if w.LastStepBy != "timerfd" {
			t.Fatalf("step %d found by %q, want timerfd: %+v", i+1, w.LastStepBy, w)
		}
		if d := w.LastStepNs - want; d < -200 || d > 200 {
			t.Fatalf("step %d measured as %d ns, want %d ± 200", i+1, w.LastStepNs, want)
		}
		if s.Seq == seq {
			t.Fatalf("no fresh snapshot after step %d (Seq %d)", i+1, s.Seq)
		}
		seq = s.Seq
		bracketStamp(t, c)
	}
}
