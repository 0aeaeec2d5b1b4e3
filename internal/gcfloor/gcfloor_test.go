package gcfloor

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name              string
		floor, live, scan uint64
		base, want        int
	}{
		{"before the first cycle: the scaled minimum", 64 * mib, 0, 0, 100, 1600}, // 4 MiB × 16 = 64
		{"small heap: the scaled minimum", 64 * mib, 2 * mib, 0, 100, 1600},       // max(64, 2 + 2×16)
		{"medium heap: the live rule", 64 * mib, 8 * mib, 0, 100, 700},            // 8 + 8×7 = 64
		{"stacks and globals count", 64 * mib, 8 * mib, 8 * mib, 100, 350},        // 8 + 16×3.5 = 64
		{"live at half the floor", 64 * mib, 32 * mib, 0, 100, 100},               // 32 + 32×1 = 64
		{"live above half the floor: base", 64 * mib, 40 * mib, 0, 100, 100},      // 60 % is below base
		{"live above the floor: base", 64 * mib, 100 * mib, 0, 100, 100},          //
		{"a higher base is never lowered", 64 * mib, 16 * mib, 0, 400, 400},       // the floor alone asks 300
		{"a higher base is exceeded if need be", 64 * mib, 2 * mib, 0, 400, 1600}, //
		{"a small floor", 8 * mib, 1 * mib, 0, 100, 200},                          // max(8, 1 + 1×2)
	} {
		if got := Percent(c.floor, c.live, c.scan, c.base); got != c.want {
			t.Errorf("%s: Percent(%d, %d, %d, %d) = %d, want %d", c.name, c.floor, c.live, c.scan, c.base, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{Floor: 1 << 20, Interval: time.Second},
		{Floor: 64 << 20, Interval: 0},
		{Floor: 2 << 40, Interval: time.Second},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v: Validate accepted it", c)
		}
	}
}

// sink keeps allocations from being optimized away.
var sink []byte

// churn allocates n bytes of garbage in 4 KiB pieces (a message's worth)
// and returns how many GC cycles ran meanwhile.
func churn(n int) uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	for i := 0; i < n; i += 4096 {
		sink = make([]byte, 4096)
	}
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// TestFloorCutsCycles: 256 MiB of garbage over a small live heap. Without
// the floor the collector runs every few MiB; with a 64 MiB floor it runs
// about every 64 MiB. Afterwards the previous percentage is back.
func TestFloorCutsCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 512 MiB")
	}
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	runtime.GC()
	without := churn(256 << 20)

	stop := startRun(t, time.Millisecond)
	waitGOGC(t, "small heap", func(p uint64) bool { return p > 100 })
	t.Logf("GC percent raised to %d", gogc())
	with := churn(256 << 20)
	stop()
	t.Logf("GC cycles for 256 MiB of garbage: %d without the floor, %d with it", without, with)
	if with == 0 || with*4 > without {
		t.Errorf("GC cycles with a 64 MiB floor = %d, without = %d: want at least 4× fewer (and some)", with, without)
	}
	if p := gogc(); p != 100 {
		t.Errorf("after Run, GC percent = %d, want the previous 100 back", p)
	}
}

// gogc reads the GC percentage in force without changing it.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestOperatorGOGCWins(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	env := func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	}
	err := Run(context.Background(), DefaultConfig(), env)
	if !errors.Is(err, ErrOperatorGOGC) {
		t.Fatalf("Run with GOGC set = %v, want ErrOperatorGOGC", err)
	}
	if p := gogc(); p != 100 {
		t.Errorf("GC percent = %d after Run refused, want 100 untouched", p)
	}
}

// startRun runs Run in the background with a floor of 64 MiB and the given
// interval; stop cancels it and checks its error.
func startRun(t *testing.T, interval time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := DefaultConfig()
	cfg.Interval = interval
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, func(string) string { return "" }) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// waitGOGC waits up to 5 s, collecting now and then, for cond(gogc()).
func waitGOGC(t *testing.T, what string, cond func(uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(gogc()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: GC percent still %d after 5 s", what, gogc())
		}
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLargeLiveHeapUntouched: with a live heap above the floor the
// percentage stays at the base, so the floor never makes a big heap bigger;
// once the heap is small again the floor is back.
func TestLargeLiveHeapUntouched(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 96 MiB")
	}
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	live := make([]byte, 96<<20)
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	stop := startRun(t, time.Millisecond)
	for range 50 {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
		if p := gogc(); p != 100 {
			t.Fatalf("live heap 96 MiB, floor 64 MiB: GC percent = %d, want 100", p)
		}
	}
	runtime.KeepAlive(live)
	live = nil
	waitGOGC(t, "live heap dropped", func(p uint64) bool { return p > 100 })
	stop()
	if p := gogc(); p != 100 {
		t.Errorf("after Run, GC percent = %d, want 100", p)
	}
}

// TestLiveHeapGrowthLowersPercent: the percentage raised over a small heap
// comes down right after the cycle that finds a large one — woken by the
// cycle, not by the ticker (a minute here).
func TestLiveHeapGrowthLowersPercent(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 96 MiB")
	}
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	runtime.GC()
	stop := startRun(t, time.Minute)
	defer stop()
	waitGOGC(t, "small heap", func(p uint64) bool { return p > 100 })
	live := make([]byte, 96<<20)
	for i := range live {
		live[i] = byte(i)
	}
	waitGOGC(t, "live heap grown to 96 MiB", func(p uint64) bool { return p == 100 })
	runtime.KeepAlive(live)
}

// TestOneRunAtATime: a second Run while one is active is refused, and the
// first still restores the base when it ends.
func TestOneRunAtATime(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	runtime.GC()
	stop := startRun(t, time.Millisecond)
	waitGOGC(t, "first Run", func(p uint64) bool { return p > 100 })
	if err := Run(context.Background(), DefaultConfig(), func(string) string { return "" }); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	stop()
	if p := gogc(); p != 100 {
		t.Errorf("after Run, GC percent = %d, want 100", p)
	}
	// And a Run after the first has ended works again.
	stop = startRun(t, time.Millisecond)
	waitGOGC(t, "a later Run", func(p uint64) bool { return p > 100 })
	stop()
}
