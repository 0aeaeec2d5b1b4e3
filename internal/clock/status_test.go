package clock

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// synced is a healthy chronyd: selected source polled every 64 s, updated
// 10 s ago, bound 5 µs + 100 µs + 200 µs/2 = 205 µs.
func synced() *ChronyData {
	return &ChronyData{
		Reachable: true, RefID: 0x0A000001, RefAddr: "10.0.0.1", Stratum: 3,
		Leap: ChronyLeapNormal, RefTime: t0.Add(-10 * time.Second),
		CurrentCorrectionNs: -5_000, RootDispersionNs: 100_000, RootDelayNs: 200_000,
		Selected: true, SelectedAddr: "10.0.0.1", SelectedPoll: 6, SelectedReach: 0377,
		SinceSampleSec: 10, NumSources: 1, LastUpdateAgeNs: int64(10 * time.Second),
	}
}

func locked() *PTPData {
	return &PTPData{Reachable: true, PortState: "SLAVE", MasterOffsetNs: -40, MeanPathDelayNs: 300,
		GMPresent: true, GMIdentity: "001122.fffe.334455", ClockClass: 6, ClockAccuracy: 0x21, AgeNs: int64(500 * time.Millisecond)}
}

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestDerive(t *testing.T) {
	th := Defaults()
	with := func(f func(c *ChronyData)) *ChronyData { c := synced(); f(c); return c }
	withP := func(f func(p *PTPData)) *PTPData { p := locked(); f(p); return p }
	good10 := repeat(340, 10)

	tests := []struct {
		name      string
		m         Measurement
		ptp       []int64
		want      chain.ClockSyncStatus
		src       Source
		bound     int64
		reasonHas string
	}{
		{name: "nothing configured", m: Measurement{}, want: chain.Unreliable, src: SourceSystem, bound: UnknownBound, reasonHas: "no time daemon"},
		{name: "adjtimex alone is not a daemon", m: Measurement{Adjtimex: &AdjtimexData{Available: true, MaxErrorUs: 10}},
			want: chain.Unreliable, src: SourceSystem, bound: UnknownBound},
		{name: "chronyd unreachable", m: Measurement{Chrony: &ChronyData{Err: "connection refused"}},
			want: chain.Unreliable, src: SourceSystem, bound: UnknownBound, reasonHas: "connection refused"},
		{name: "chronyd synced", m: Measurement{Chrony: synced()}, want: chain.NTPSynced, src: SourceNTP, bound: 205_000},
		{name: "bound exactly 1 ms is synced", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.CurrentCorrectionNs, c.RootDispersionNs, c.RootDelayNs = 0, 1_000_000, 0
		})}, want: chain.NTPSynced, src: SourceNTP, bound: 1_000_000},
		{name: "bound 1 ms + 1 ns is best effort", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.CurrentCorrectionNs, c.RootDispersionNs, c.RootDelayNs = 1, 1_000_000, 0
		})}, want: chain.BestEffort, src: SourceNTP, bound: 1_000_001},
		{name: "negative correction counts by magnitude", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.CurrentCorrectionNs = -2_000_000
		})}, want: chain.BestEffort, src: SourceNTP, bound: 2_200_000},
		{name: "first synced sample with large dispersion", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.RootDispersionNs = 250_000_000
			c.RefTime, c.LastUpdateAgeNs, c.SinceSampleSec = t0.Add(-time.Second), int64(time.Second), 1
		})}, want: chain.BestEffort, src: SourceNTP, bound: 250_105_000},
		{name: "bound above 1 s", m: Measurement{Chrony: with(func(c *ChronyData) { c.CurrentCorrectionNs = 3_000_000_000 })},
			want: chain.Unreliable, src: SourceNTP, bound: 3_000_200_000, reasonHas: "bound"},
		{name: "leap unsynchronised", m: Measurement{Chrony: with(func(c *ChronyData) { c.Leap = ChronyLeapUnsynchronised })},
			want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "unsynchronised"},
		{name: "leap normal but no selected source (lost source)", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.Selected, c.SelectedAddr = false, ""
		})}, want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "no selected source"},
		{name: "leap normal, selected, but last update stale", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.LastUpdateAgeNs = int64(129 * time.Second) // 2 × 64 s = 128 s
		})}, want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "ago"},
		{name: "last update exactly 2 × poll is fresh", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.LastUpdateAgeNs = int64(128 * time.Second)
		})}, want: chain.NTPSynced, src: SourceNTP, bound: 205_000},
		{name: "stale by the source's last sample", m: Measurement{Chrony: with(func(c *ChronyData) { c.SinceSampleSec = 200 })},
			want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "ago"},
		{name: "sub-second poll uses the floor", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.SelectedPoll, c.LastUpdateAgeNs, c.SinceSampleSec = -6, int64(1500*time.Millisecond), 1
		})}, want: chain.NTPSynced, src: SourceNTP, bound: 205_000},
		{name: "sub-second poll, older than the floor", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.SelectedPoll, c.LastUpdateAgeNs, c.SinceSampleSec = -6, int64(2100*time.Millisecond), 2
		})}, want: chain.Unreliable, src: SourceNTP, bound: 205_000},
		{name: "huge poll is capped", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.SelectedPoll, c.LastUpdateAgeNs, c.SinceSampleSec = 17, int64(3000*time.Second), 3000
		})}, want: chain.Unreliable, src: SourceNTP, bound: 205_000},
		{name: "local stratum server: zero dispersion, no source", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.RefID, c.Stratum, c.RootDispersionNs, c.RootDelayNs, c.CurrentCorrectionNs = ChronyRefIDLocal, 8, 0, 0, 0
			c.Selected, c.SelectedAddr, c.NumSources = false, "", 0
		})}, want: chain.Unreliable, src: SourceNTP, bound: 0, reasonHas: "local stratum"},
		{name: "local reference even with a selected source", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.RefID = ChronyRefIDLocal
		})}, want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "local stratum"},
		{name: "never updated", m: Measurement{Chrony: with(func(c *ChronyData) { c.RefTime = time.Time{} })},
			want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "never"},
		{name: "reference time in the future", m: Measurement{Chrony: with(func(c *ChronyData) { c.LastUpdateAgeNs = -int64(5 * time.Second) })},
			want: chain.Unreliable, src: SourceNTP, bound: 205_000, reasonHas: "future"},
		{name: "saturating bound", m: Measurement{Chrony: with(func(c *ChronyData) {
			c.CurrentCorrectionNs, c.RootDispersionNs = math.MinInt64, math.MaxInt64
		})}, want: chain.Unreliable, src: SourceNTP, bound: math.MaxInt64},

		{name: "ptp locked", m: Measurement{PTP: locked()}, ptp: good10, want: chain.PTPLocked, src: SourcePTP, bound: 340},
		{name: "ptp bound takes the larger offset", m: Measurement{PTP: withP(func(p *PTPData) { p.MasterOffsetNs, p.OffsetFromMasterNs = 0, -900 })}, ptp: good10,
			want: chain.BestEffort, src: SourcePTP, bound: 1200},
		{name: "ptp locked needs N samples", m: Measurement{PTP: locked()}, ptp: good10[:9], want: chain.BestEffort, src: SourcePTP, bound: 340},
		{name: "ptp one bad sample in the window", m: Measurement{PTP: locked()}, ptp: append([]int64{340, 1001}, repeat(340, 8)...),
			want: chain.BestEffort, src: SourcePTP, bound: 340},
		{name: "ptp old bad sample outside the window", m: Measurement{PTP: locked()}, ptp: append([]int64{5000}, good10...),
			want: chain.PTPLocked, src: SourcePTP, bound: 340},
		{name: "ptp clockClass 248", m: Measurement{PTP: withP(func(p *PTPData) { p.ClockClass = 248 })}, ptp: good10,
			want: chain.BestEffort, src: SourcePTP, bound: 340},
		{name: "ptp not slave", m: Measurement{PTP: withP(func(p *PTPData) { p.PortState = "LISTENING" })}, ptp: good10,
			want: chain.Unreliable, src: SourcePTP, bound: 340, reasonHas: "LISTENING"},
		{name: "ptp no grandmaster", m: Measurement{PTP: withP(func(p *PTPData) { p.GMPresent = false })}, ptp: good10,
			want: chain.Unreliable, src: SourcePTP, bound: 340},
		{name: "ptp path delay not measured yet", m: Measurement{PTP: withP(func(p *PTPData) { p.MasterOffsetNs, p.MeanPathDelayNs = 0, 0 })}, ptp: good10,
			want: chain.Unreliable, src: SourcePTP, bound: 0, reasonHas: "path delay"},
		{name: "ptp age unknown (first poll)", m: Measurement{PTP: withP(func(p *PTPData) { p.AgeNs = -1 })}, ptp: good10,
			want: chain.Unreliable, src: SourcePTP, bound: 340},
		{name: "ptp stale", m: Measurement{PTP: withP(func(p *PTPData) { p.AgeNs = int64(4 * time.Second) })}, ptp: good10,
			want: chain.Unreliable, src: SourcePTP, bound: 340},
		{name: "ptp unreachable, chrony synced", m: Measurement{PTP: &PTPData{Err: "no such file"}, Chrony: synced()},
			want: chain.NTPSynced, src: SourceNTP, bound: 205_000},
		{name: "ptp locked beats chrony", m: Measurement{PTP: locked(), Chrony: synced()}, ptp: good10,
			want: chain.PTPLocked, src: SourcePTP, bound: 340},
		{name: "tie goes to the smaller bound", m: Measurement{PTP: withP(func(p *PTPData) { p.ClockClass = 7 }), Chrony: with(func(c *ChronyData) {
			c.RootDispersionNs = 5_000_000
		})}, ptp: good10, want: chain.BestEffort, src: SourcePTP, bound: 340},
		{name: "both unreachable", m: Measurement{PTP: &PTPData{Err: "a"}, Chrony: &ChronyData{Err: "b"}},
			want: chain.Unreliable, src: SourceSystem, bound: UnknownBound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Taken = t0
			got := Derive(th, tc.m, tc.ptp)
			if got.Status != tc.want || got.Source != tc.src || got.MaxErrorNs != tc.bound {
				t.Fatalf("Derive = %+v, want status %s source %s bound %d", got, tc.want, tc.src, tc.bound)
			}
			if got.Reason == "" || !strings.Contains(got.Reason, tc.reasonHas) {
				t.Fatalf("reason %q does not mention %q", got.Reason, tc.reasonHas)
			}
		})
	}
}

func TestThresholdsValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tight := Defaults()
	tight.NTPMaxErrorNs, tight.BestEffortMaxErrorNs, tight.StaleFactor = 100_000, 50_000_000, 1
	if err := tight.Validate(); err != nil {
		t.Fatalf("tightened: %v", err)
	}
	bad := []func(*Thresholds){
		func(th *Thresholds) { th.PTPMaxErrorNs = 2_000 },
		func(th *Thresholds) { th.PTPMaxErrorNs = 0 },
		func(th *Thresholds) { th.PTPSamples = 1 },
		func(th *Thresholds) { th.PTPClockClass = 7 },
		func(th *Thresholds) { th.PTPMaxAge = time.Minute },
		func(th *Thresholds) { th.NTPMaxErrorNs = 2_000_000 },
		func(th *Thresholds) { th.NTPMaxErrorNs = 500 },
		func(th *Thresholds) { th.BestEffortMaxErrorNs = 2_000_000_000 },
		func(th *Thresholds) { th.BestEffortMaxErrorNs = 500_000 },
		func(th *Thresholds) { th.StaleFactor = 3 },
		func(th *Thresholds) { th.StaleFactor = 0 },
		func(th *Thresholds) { th.StaleFloor = time.Hour },
		func(th *Thresholds) { th.StaleCap = time.Second },
		func(th *Thresholds) { th.StaleCap = 24 * time.Hour },
		func(th *Thresholds) { th.MaxSnapshotAge = time.Second },
		func(th *Thresholds) { th.MaxSnapshotAge = time.Minute },
	}
	for i, f := range bad {
		th := Defaults()
		f(&th)
		if err := th.Validate(); !errors.Is(err, ErrThresholds) {
			t.Errorf("case %d: Validate = %v, want ErrThresholds", i, err)
		}
	}
}

func TestMaxUpdateAge(t *testing.T) {
	th := Defaults()
	for _, tc := range []struct {
		poll int16
		want time.Duration
	}{
		{-6, 2 * time.Second}, {0, 2 * time.Second}, {1, 4 * time.Second}, {6, 128 * time.Second},
		{10, 2048 * time.Second}, {11, 2048 * time.Second}, {24, 2048 * time.Second}, {math.MaxInt16, 2048 * time.Second},
		{math.MinInt16, 2 * time.Second},
	} {
		if got := th.MaxUpdateAge(tc.poll); got != tc.want {
			t.Errorf("MaxUpdateAge(%d) = %v, want %v", tc.poll, got, tc.want)
		}
	}
}

func TestSecondsToNs(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		want int64
	}{
		{0, 0}, {1e-9, 1}, {-0.000123456789, -123457}, {1.5, 1_500_000_000},
		{math.NaN(), math.MaxInt64}, {math.Inf(1), math.MaxInt64}, {math.Inf(-1), math.MinInt64 + 1}, {1e300, math.MaxInt64},
	} {
		if got := secondsToNs(tc.s); got != tc.want {
			t.Errorf("secondsToNs(%v) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
