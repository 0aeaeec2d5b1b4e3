package clock

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// RuleVersion names the rules Derive implements. Change it whenever a rule
// or a default threshold changes: every snapshot, and so every SNC event,
// records the version its status was derived under.
const RuleVersion = "fixtap-clock/1"

// Source is the kind of time source a status was derived from; it is the
// Source of the event's Payload.Clock block.
type Source string

// Sources. SYSTEM means no time daemon gave a usable measurement: the
// status is then UNRELIABLE.
const (
	SourcePTP    Source = "PTP"
	SourceNTP    Source = "NTP"
	SourceSystem Source = "SYSTEM"
)

// UnknownBound is the MaxErrorNs of a snapshot whose sources measured no
// error bound at all (no daemon reachable). Its event string is "".
const UnknownBound int64 = -1

// chrony leap status values (candm.h LEAP_*).
const (
	ChronyLeapNormal         = 0
	ChronyLeapInsertSecond   = 1
	ChronyLeapDeleteSecond   = 2
	ChronyLeapUnsynchronised = 3
)

// ChronyRefIDLocal is the reference ID chronyd reports when it serves its
// own clock under `local stratum N` ("LOCL"): it then advertises zero root
// delay and dispersion although nothing was measured.
const ChronyRefIDLocal uint32 = 0x7F7F0101

// ChronyData is what chronyd said in one poll: its `tracking` reply and the
// selected (`*`) entry of `sources`. Durations are nanoseconds, converted
// from chrony's floating seconds with saturation (see secondsToNs).
type ChronyData struct {
	// Reachable is false when the exchange failed; Err then says why.
	Reachable bool
	Err       string

	// tracking
	RefID                uint32
	RefAddr              string // tracking IPAddr: the current sync source, "" if none
	Stratum              uint16
	Leap                 uint16    // ChronyLeap*; chronyd keeps 0 long after losing its source
	RefTime              time.Time // wall time of the last reference update; zero if never
	CurrentCorrectionNs  int64     // system time minus NTP time being slewed out (sign as chrony)
	LastOffsetNs         int64
	RMSOffsetNs          int64
	RootDelayNs          int64
	RootDispersionNs     int64
	LastUpdateIntervalNs int64 // interval between the last two updates, not their age
	FreqPPB              int64

	// sources: the selected source, if any.
	Selected       bool
	SelectedAddr   string
	SelectedPoll   int16  // log2 seconds; may be negative
	SelectedReach  uint16 // 8-bit reachability register
	SinceSampleSec uint32 // seconds since the selected source's last sample
	NumSources     int

	// LastUpdateAgeNs is the age of RefTime when measured, on chronyd's
	// timescale: (system time + CurrentCorrection) − RefTime.
	LastUpdateAgeNs int64
}

// PTPData is what ptp4l said in one poll.
type PTPData struct {
	Reachable      bool
	Err            string
	PortState      string // "SLAVE", "MASTER", "LISTENING", ...
	MasterOffsetNs int64  // TIME_STATUS_NP master_offset
	// OffsetFromMasterNs is CURRENT_DATA_SET offsetFromMaster; ptp4l can
	// report 0 in one of the two while the other has a value, so the bound
	// takes the larger magnitude.
	OffsetFromMasterNs int64
	MeanPathDelayNs    int64
	GMPresent          bool
	GMIdentity         string
	ClockClass         uint8
	ClockAccuracy      uint8
	// AgeNs is how long ptp4l's TIME_STATUS_NP ingress time had not
	// changed when read, on our monotonic clock; -1 when not yet known
	// (first poll), which Derive treats as stale.
	AgeNs int64
}

// AdjtimexData is the kernel's view (adjtimex(2) with modes 0, read-only).
// It is recorded as evidence and does not change the status: a chronyd run
// with -x (no clock control) legitimately leaves STA_UNSYNC set.
type AdjtimexData struct {
	// Available is false when the call failed, e.g. EPERM under systemd's
	// ProtectClock=yes; Err then says why.
	Available  bool
	Err        string
	State      int   // return value: TIME_OK, TIME_ERROR (5), ...
	Status     int32 // STA_* flags
	MaxErrorUs int64
	EstErrorUs int64
	OffsetNs   int64 // kernel PLL offset (ns when STA_NANO, else µs converted)
}

// Unsync reports whether the kernel says the clock is unsynchronised.
func (a *AdjtimexData) Unsync() bool { return a.Status&staUnsync != 0 }

// staUnsync is STA_UNSYNC from <sys/timex.h>; kept here so the package
// builds on platforms without adjtimex.
const staUnsync = 0x40

// Measurement is one poll of every configured source. A nil field is a
// source that is not configured; a configured source that could not be
// asked is non-nil with Reachable/Available false.
type Measurement struct {
	Taken    time.Time // when the poll finished (wall and monotonic)
	Chrony   *ChronyData
	PTP      *PTPData
	Adjtimex *AdjtimexData
	// Wall is how capture times were anchored to CLOCK_REALTIME when the
	// snapshot was published (wallclock.go); set by the poller, nil in a
	// measurement built by hand.
	Wall *WallState
}

// Result is the status Derive gives a measurement.
type Result struct {
	Status     chain.ClockSyncStatus
	Source     Source
	MaxErrorNs int64  // UnknownBound if nothing measured one
	Reason     string // why this status, for the SNC event and the log
}

// Thresholds are the bounds of each status. Defaults() are the profile's;
// a tier may tighten them, never loosen them (Validate).
type Thresholds struct {
	// PTP_LOCKED: |offset| + meanPathDelay ≤ PTPMaxErrorNs in each of the
	// last PTPSamples polls, grandmaster clockClass PTPClockClass, and
	// ptp4l's latest measurement no older than PTPMaxAge.
	PTPMaxErrorNs int64
	PTPSamples    int
	PTPClockClass uint8
	PTPMaxAge     time.Duration

	// NTP_SYNCED: |CurrentCorrection| + RootDispersion + RootDelay/2 ≤
	// NTPMaxErrorNs. BEST_EFFORT: the same bound ≤ BestEffortMaxErrorNs.
	NTPMaxErrorNs        int64
	BestEffortMaxErrorNs int64

	// A chrony measurement is fresh while its last update is no older than
	// StaleFactor × the selected source's poll interval, but never less
	// than StaleFloor (fixtap itself samples about once a second, so a
	// sub-second poll would otherwise flap) nor more than StaleCap.
	StaleFactor int
	StaleFloor  time.Duration
	StaleCap    time.Duration

	// MaxSnapshotAge: Stamp reports UNRELIABLE when the published snapshot
	// is older than this (the poller is stuck or gone).
	MaxSnapshotAge time.Duration
}

// Defaults returns the profile's thresholds (vcp-profile §5).
func Defaults() Thresholds {
	return Thresholds{
		PTPMaxErrorNs:        1_000,
		PTPSamples:           10,
		PTPClockClass:        6,
		PTPMaxAge:            3 * time.Second,
		NTPMaxErrorNs:        1_000_000,
		BestEffortMaxErrorNs: 1_000_000_000,
		StaleFactor:          2,
		StaleFloor:           2 * time.Second,
		// 2 × chrony's default maxpoll (10, 1024 s): a default chronyd is
		// never called stale between two regular updates.
		StaleCap:       2048 * time.Second,
		MaxSnapshotAge: 5 * time.Second,
	}
}

// ErrThresholds is wrapped by every error Validate returns.
var ErrThresholds = errors.New("clock: invalid thresholds")

// Validate refuses thresholds that are not positive, out of order, or
// looser than the profile's defaults.
func (th Thresholds) Validate() error {
	d := Defaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrThresholds, fmt.Sprintf(format, args...))
	}
	switch {
	case th.PTPMaxErrorNs <= 0 || th.PTPMaxErrorNs > d.PTPMaxErrorNs:
		return bad("PTPMaxErrorNs %d not in (0, %d]", th.PTPMaxErrorNs, d.PTPMaxErrorNs)
	case th.PTPSamples < d.PTPSamples || th.PTPSamples > 3600:
		return bad("PTPSamples %d not in [%d, 3600]", th.PTPSamples, d.PTPSamples)
	case th.PTPClockClass != d.PTPClockClass:
		return bad("PTPClockClass %d, the profile requires %d", th.PTPClockClass, d.PTPClockClass)
	case th.PTPMaxAge <= 0 || th.PTPMaxAge > d.PTPMaxAge:
		return bad("PTPMaxAge %v not in (0, %v]", th.PTPMaxAge, d.PTPMaxAge)
	case th.NTPMaxErrorNs <= 0 || th.NTPMaxErrorNs > d.NTPMaxErrorNs:
		return bad("NTPMaxErrorNs %d not in (0, %d]", th.NTPMaxErrorNs, d.NTPMaxErrorNs)
	case th.NTPMaxErrorNs < th.PTPMaxErrorNs:
		return bad("NTPMaxErrorNs %d below PTPMaxErrorNs %d", th.NTPMaxErrorNs, th.PTPMaxErrorNs)
	case th.BestEffortMaxErrorNs <= 0 || th.BestEffortMaxErrorNs > d.BestEffortMaxErrorNs:
		return bad("BestEffortMaxErrorNs %d not in (0, %d]", th.BestEffortMaxErrorNs, d.BestEffortMaxErrorNs)
	case th.BestEffortMaxErrorNs < th.NTPMaxErrorNs:
		return bad("BestEffortMaxErrorNs %d below NTPMaxErrorNs %d", th.BestEffortMaxErrorNs, th.NTPMaxErrorNs)
	case th.StaleFactor < 1 || th.StaleFactor > d.StaleFactor:
		return bad("StaleFactor %d not in [1, %d]", th.StaleFactor, d.StaleFactor)
	case th.StaleFloor <= 0 || th.StaleFloor > d.StaleFloor:
		return bad("StaleFloor %v not in (0, %v]", th.StaleFloor, d.StaleFloor)
	case th.StaleCap < th.StaleFloor || th.StaleCap > d.StaleCap:
		return bad("StaleCap %v not in [StaleFloor %v, %v]", th.StaleCap, th.StaleFloor, d.StaleCap)
	case th.MaxSnapshotAge < 2*time.Second || th.MaxSnapshotAge > d.MaxSnapshotAge:
		return bad("MaxSnapshotAge %v not in [2s, %v] (the poller runs about once a second)", th.MaxSnapshotAge, d.MaxSnapshotAge)
	}
	return nil
}

// MaxUpdateAge is the freshness bound for a source polled every 2^poll
// seconds: StaleFactor × 2^poll, clamped to [StaleFloor, StaleCap].
func (th Thresholds) MaxUpdateAge(poll int16) time.Duration {
	var d time.Duration
	switch {
	case poll >= 40: // 2^40 s overflows nothing useful; it is past any cap
		d = th.StaleCap
	case poll >= 0:
		d = time.Duration(th.StaleFactor) * (time.Second << uint(poll))
	case poll > -30:
		d = time.Duration(th.StaleFactor) * (time.Second >> uint(-poll))
	}
	return min(max(d, th.StaleFloor), th.StaleCap)
}

// rank orders statuses, best first.
func rank(s chain.ClockSyncStatus) int {
	switch s {
	case chain.PTPLocked:
		return 0
	case chain.NTPSynced:
		return 1
	case chain.BestEffort:
		return 2
	}
	return 3
}

// Worse reports whether status b is worse than status a.
func Worse(a, b chain.ClockSyncStatus) bool { return rank(b) > rank(a) }

// Derive gives the status of measurement m under th (vcp-profile §5, rule
// version RuleVersion). ptpBounds holds the PTP error bounds
// (|offset| + meanPathDelay, ns) of the most recent polls, oldest first,
// including m's own; it is only consulted for PTP_LOCKED.
//
// Each configured source yields a candidate; the best status wins and, on
// a tie, the smaller bound. No reachable daemon means UNRELIABLE with
// source SYSTEM: the status is never better than what was measured.
func Derive(th Thresholds, m Measurement, ptpBounds []int64) Result {
	best := Result{Status: chain.Unreliable, Source: SourceSystem, MaxErrorNs: UnknownBound, Reason: "no time daemon configured"}
	first := true
	consider := func(r Result) {
		if first || rank(r.Status) < rank(best.Status) ||
			(rank(r.Status) == rank(best.Status) && betterBound(r.MaxErrorNs, best.MaxErrorNs)) {
			best = r
		}
		first = false
	}
	if m.PTP != nil {
		consider(derivePTP(th, m.PTP, ptpBounds))
	}
	if m.Chrony != nil {
		consider(deriveChrony(th, m.Chrony))
	}
	return best
}

// betterBound reports whether a is a smaller known bound than b.
func betterBound(a, b int64) bool {
	return a != UnknownBound && (b == UnknownBound || a < b)
}

// ChronyBound is the NTP error bound of the profile:
// |CurrentCorrection| + RootDispersion + RootDelay/2, saturating.
func ChronyBound(c *ChronyData) int64 {
	return satAdd(satAdd(absNs(c.CurrentCorrectionNs), absNs(c.RootDispersionNs)), absNs(c.RootDelayNs)/2)
}

func deriveChrony(th Thresholds, c *ChronyData) Result {
	r := Result{Status: chain.Unreliable, Source: SourceNTP, MaxErrorNs: UnknownBound}
	if !c.Reachable {
		r.Source = SourceSystem
		r.Reason = "chronyd not reachable: " + c.Err
		return r
	}
	r.MaxErrorNs = ChronyBound(c)
	// The leap flag alone proves nothing (chronyd keeps "Normal" after
	// losing its source), but "unsynchronised" is always believed.
	switch {
	case c.Leap == ChronyLeapUnsynchronised:
		r.Reason = "chronyd leap status unsynchronised"
		return r
	case c.RefID == ChronyRefIDLocal:
		r.Reason = "chronyd serves its own clock (local stratum); nothing is measured"
		return r
	case !c.Selected:
		r.Reason = fmt.Sprintf("chronyd has no selected source (%d sources)", c.NumSources)
		return r
	case c.RefTime.IsZero() || c.RefTime.Unix() == 0:
		r.Reason = "chronyd has never updated its reference"
		return r
	}
	maxAge := th.MaxUpdateAge(c.SelectedPoll)
	age := time.Duration(max(c.LastUpdateAgeNs, int64(c.SinceSampleSec)*int64(time.Second)))
	if age > maxAge {
		r.Reason = fmt.Sprintf("chronyd last update %v ago, more than %v (poll 2^%d s)", age, maxAge, c.SelectedPoll)
		return r
	}
	if c.LastUpdateAgeNs < -int64(time.Second) {
		r.Reason = fmt.Sprintf("chronyd reference time %v in the future", time.Duration(-c.LastUpdateAgeNs))
		return r
	}
	switch {
	case r.MaxErrorNs <= th.NTPMaxErrorNs:
		r.Status = chain.NTPSynced
		r.Reason = fmt.Sprintf("chronyd selected %s, bound %dns ≤ %dns", c.SelectedAddr, r.MaxErrorNs, th.NTPMaxErrorNs)
	case r.MaxErrorNs <= th.BestEffortMaxErrorNs:
		r.Status = chain.BestEffort
		r.Reason = fmt.Sprintf("chronyd selected %s, bound %dns > %dns", c.SelectedAddr, r.MaxErrorNs, th.NTPMaxErrorNs)
	default:
		r.Reason = fmt.Sprintf("chronyd bound %dns > %dns", r.MaxErrorNs, th.BestEffortMaxErrorNs)
	}
	return r
}

// PTPBound is |master offset| + mean path delay, saturating, with the
// larger of the two offsets ptp4l reports.
func PTPBound(p *PTPData) int64 {
	return satAdd(max(absNs(p.MasterOffsetNs), absNs(p.OffsetFromMasterNs)), absNs(p.MeanPathDelayNs))
}

func derivePTP(th Thresholds, p *PTPData, bounds []int64) Result {
	r := Result{Status: chain.Unreliable, Source: SourcePTP, MaxErrorNs: UnknownBound}
	if !p.Reachable {
		r.Source = SourceSystem
		r.Reason = "ptp4l not reachable: " + p.Err
		return r
	}
	r.MaxErrorNs = PTPBound(p)
	switch {
	case p.PortState != "SLAVE":
		r.Reason = "ptp4l port state " + p.PortState
		return r
	case !p.GMPresent:
		r.Reason = "ptp4l reports no grandmaster"
		return r
	case p.MeanPathDelayNs <= 0:
		// Right after UNCALIBRATED → SLAVE ptp4l reports offset 0 and path
		// delay 0: not a perfect clock, a delay not measured yet.
		r.Reason = "ptp4l has not measured the path delay yet"
		return r
	case p.AgeNs > int64(th.PTPMaxAge) || p.AgeNs < 0:
		r.Reason = fmt.Sprintf("ptp4l measurement %v old, more than %v", time.Duration(p.AgeNs), th.PTPMaxAge)
		return r
	}
	if p.ClockClass == th.PTPClockClass && r.MaxErrorNs <= th.PTPMaxErrorNs && sustained(bounds, th.PTPSamples, th.PTPMaxErrorNs) {
		r.Status = chain.PTPLocked
		r.Reason = fmt.Sprintf("ptp4l SLAVE, clockClass %d, bound ≤ %dns over %d samples", p.ClockClass, th.PTPMaxErrorNs, th.PTPSamples)
		return r
	}
	if r.MaxErrorNs <= th.BestEffortMaxErrorNs {
		r.Status = chain.BestEffort
		r.Reason = fmt.Sprintf("ptp4l SLAVE, clockClass %d, bound %dns (not ≤ %dns over %d samples)", p.ClockClass, r.MaxErrorNs, th.PTPMaxErrorNs, th.PTPSamples)
		return r
	}
	r.Reason = fmt.Sprintf("ptp4l bound %dns > %dns", r.MaxErrorNs, th.BestEffortMaxErrorNs)
	return r
}

// sustained reports whether the last n bounds exist and are all ≤ limit.
func sustained(bounds []int64, n int, limit int64) bool {
	if n <= 0 || len(bounds) < n {
		return false
	}
	for _, b := range bounds[len(bounds)-n:] {
		if b < 0 || b > limit {
			return false
		}
	}
	return true
}

func absNs(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}

func satAdd(a, b int64) int64 { // both ≥ 0
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// secondsToNs converts chrony's floating seconds to nanoseconds, rounding
// to nearest and saturating at ±MaxInt64; NaN becomes MaxInt64, so a
// garbled reply can only make a bound larger, never smaller.
func secondsToNs(s float64) int64 {
	ns := s * 1e9
	switch {
	case math.IsNaN(ns):
		return math.MaxInt64
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64 + 1
	}
	return int64(math.Round(ns))
}
