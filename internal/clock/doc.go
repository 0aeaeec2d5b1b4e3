// Package clock measures the host clock and hands every event its capture
// time and the measured state of that clock (vcp-profile §5, docs §8).
//
// It is the only package of fixtap that reads wall time (internal/lint
// enforces this). A Clock owns one goroutine that, about once a second,
// asks chronyd (over its command protocol, github.com/facebook/time
// ntp/chrony), ptp4l (management protocol) and the kernel (read-only
// adjtimex) how good the clock is, derives a status with Derive, and
// publishes an immutable *Snapshot through an atomic pointer. The
// per-message path (Clock.Stamp) reads CLOCK_MONOTONIC once from the vDSO,
// adds the offset to CLOCK_REALTIME and loads that pointer: no system
// call, no lock, no allocation. The offset is re-measured the moment the
// wall clock is stepped (a timerfd with TFD_TIMER_CANCEL_ON_SET) and
// cross-checked on every poll; wallclock.go says why that is exact.
//
// The status is measured, never configured: a source that cannot be asked
// is reported as such and can only make the status worse (no daemon →
// UNRELIABLE). The rules are versioned (RuleVersion) and every snapshot
// records the version it was derived under.
//
// ptp4l is read over its management socket (github.com/facebook/time
// ptp/protocol). Its master offset is the offset of the clock ptp4l
// disciplines; that is the system clock only with software timestamping.
// With hardware timestamping the system clock follows the PHC through
// phc2sys, which this package does not measure yet, so such a setup must
// not be configured as a PTP source for the capture clock.
package clock
