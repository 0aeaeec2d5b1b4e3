package clock

import (
	"testing"
	"time"
)

// bracketStamp checks that a capture time lies between two wall-clock
// readings taken around it, give or take the anchor's own uncertainty and
// a microsecond. The bracket widens with load, so the check does not
// depend on the machine's speed.
func bracketStamp(t *testing.T, c *Clock) {
	t.Helper()
	unc := c.wall.snapshot().UncertaintyNs + 1000
	before := time.Now().UnixNano()
	st := c.Stamp()
	after := time.Now().UnixNano()
	if st.TimeNs < before-unc || st.TimeNs > after+unc {
		t.Fatalf("capture time %d outside the wall-clock bracket [%d, %d] ± %d ns (off by %d ns)",
			st.TimeNs, before, after, unc, st.TimeNs-before)
	}
	if now := c.Now(); now < before-unc {
		t.Fatalf("Now %d before the bracket start %d", now, before)
	}
}

// TestStampFollowsWallClock: the monotonic-plus-offset capture time reads
// CLOCK_REALTIME, within the anchor's bracket, over many readings.
func TestStampFollowsWallClock(t *testing.T) {
	c, err := newClock(t.Context(), Config{}, (&script{next: []func() *ChronyData{freshSynced}}).measure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := c.Snapshot().Wall
	if w == nil || w.Steps != 0 || w.UncertaintyNs < 0 || w.UncertaintyNs > 1_000_000 {
		t.Fatalf("Wall = %+v", w)
	}
	for range 1000 {
		bracketStamp(t, c)
	}
	if e := c.Snapshot().Evidence("").Wall; e == nil || e.Method != "CLOCK_MONOTONIC+offset" || e.Steps != "0" || e.LastStepBy != "" {
		t.Fatalf("evidence Wall = %+v", e)
	}
}

// TestStepFoundByPoll: an anchor that no longer matches CLOCK_REALTIME (as
// after a step no watcher reported) is found by the next poll, which
// re-anchors, records the step with its size and reports a Stepped notice
// even though the status did not change.
func TestStepFoundByPoll(t *testing.T) {
	var rec recorder
	c, err := newClock(t.Context(), Config{Notify: rec.notify}, (&script{next: []func() *ChronyData{freshSynced}}).measure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Make the anchor 5 ms stale: capture times now read 5 ms early.
	const stale = 5 * time.Millisecond
	c.wall.mu.Lock()
	c.wall.state.OffsetNs -= int64(stale)
	c.off.Store(c.wall.state.OffsetNs)
	c.wall.mu.Unlock()
	if d := time.Now().UnixNano() - c.Stamp().TimeNs; d < int64(stale)-int64(time.Millisecond) {
		t.Fatalf("stale anchor: stamp only %d ns behind the wall clock", d)
	}

	c.wake <- struct{}{} // a poll now, on the poller goroutine
	deadline := time.Now().Add(10 * time.Second)
	for c.Snapshot().Wall.Steps == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	w := c.Snapshot().Wall
	if w.Steps != 1 || w.LastStepBy != "poll" {
		t.Fatalf("after the poll: Wall = %+v", w)
	}
	if d := w.LastStepNs - int64(stale); d < -10_000 || d > 10_000 {
		t.Fatalf("LastStepNs = %d, want %d ± 10 µs", w.LastStepNs, int64(stale))
	}
	bracketStamp(t, c)

	var stepped []Notice
	for _, n := range rec.notices() {
		if n.Stepped {
			stepped = append(stepped, n)
		}
	}
	if len(stepped) != 1 || stepped[0].Changed || stepped[0].Snapshot.Wall.Steps != 1 {
		t.Fatalf("Stepped notices %+v", stepped)
	}
	e := stepped[0].Snapshot.Evidence(string(stepped[0].Prev)).Wall
	if e.Steps != "1" || e.LastStepBy != "poll" || e.LastStepNs == "" || e.LastStepAtNs == "" {
		t.Fatalf("evidence Wall = %+v", e)
	}
}

// BenchmarkOffsetSample is the cost of one anchor measurement (per poll
// and per step, never per event).
func BenchmarkOffsetSample(b *testing.B) {
	for b.Loop() {
		offsetSample()
	}
}
