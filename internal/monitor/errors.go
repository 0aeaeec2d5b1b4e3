package monitor

import (
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// The typed errors a check fails with. Each carries its evidence — URLs,
// sizes, both roots — so that an alert can be acted on without re-running
// the monitor. (A replica that cannot be read fails with a *FetchError.)

// CheckpointError is a checkpoint that does not verify: bad or missing log
// signature, wrong origin, malformed text, or a witness policy not met
// (then Err wraps cosign.ErrPolicyUnsatisfied).
type CheckpointError struct {
	URL string
	Err error
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("monitor: checkpoint %s: %v", e.URL, e.Err)
}

func (e *CheckpointError) Unwrap() error { return e.Err }

// InconsistentError is two tree heads that cannot both be the same log:
// equal sizes with different roots, or a consistency proof (built from the
// tiles of TilesFrom) that fails. OldFrom and NewFrom say where each head
// came from (a replica URL, or "state" for the monitor's last verified
// checkpoint).
type InconsistentError struct {
	Old, New         tlog.Tree
	OldFrom, NewFrom string
	TilesFrom        string
	Proof            tlog.TreeProof
}

func (e *InconsistentError) Error() string {
	s := fmt.Sprintf("monitor: inconsistent tree heads: size %d root %s (%s) and size %d root %s (%s)",
		e.Old.N, e.Old.Hash, orUnknown(e.OldFrom), e.New.N, e.New.Hash, orUnknown(e.NewFrom))
	if e.TilesFrom != "" {
		s += fmt.Sprintf("; the consistency proof (%d hashes, from the tiles of %s, authenticated against the larger root) does not verify", len(e.Proof), e.TilesFrom)
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// RollbackError is a replica serving a smaller tree than it served before
// (someone restored an old copy), or, with Log set, a smaller tree than the
// last checkpoint the monitor verified while no replica serves that size
// any more (the log itself was rolled back). The alarm stays until the
// replica serves at least PreviousSize again (or its state is removed).
type RollbackError struct {
	Replica      string
	PreviousSize int64
	PreviousRoot tlog.Hash // known when Log
	Current      tlog.Tree
	Log          bool
}

func (e *RollbackError) Error() string {
	if e.Log {
		return fmt.Sprintf("monitor: rollback: %s serves size %d (root %s), the monitor verified size %d (root %s) before and no replica serves it now",
			e.Replica, e.Current.N, e.Current.Hash, e.PreviousSize, e.PreviousRoot)
	}
	return fmt.Sprintf("monitor: rollback: %s serves size %d (root %s), it served size %d before",
		e.Replica, e.Current.N, e.Current.Hash, e.PreviousSize)
}

// MismatchError is replica data that does not hash to what it must: an
// entry against its level-0 tile hash, a tile against its parent or the
// checkpoint, an event line against the entry at its index, or an object
// of the wrong length or form.
type MismatchError struct {
	What    string // "entry", "tile", "tree hash", "event", "tile length", "entry bundle", "event bundle"
	Index   int64  // the log index concerned (What "entry" or "event")
	URL     string // the object at fault
	Against string // what it was checked against (a URL, or "the checkpoint")
	Got     string
	Want    string
	Detail  string
}

func (e *MismatchError) Error() string {
	s := "monitor: " + e.What + " mismatch: " + e.URL
	if e.Index >= 0 && (e.What == "entry" || e.What == "event") {
		s += fmt.Sprintf(" index %d", e.Index)
	}
	if e.Got != "" || e.Want != "" {
		s += ": got " + e.Got + ", want " + e.Want
	}
	if e.Against != "" {
		s += " (from " + e.Against + ")"
	}
	if e.Detail != "" {
		s += "; " + e.Detail
	}
	return s
}

// StaleError is a replica whose newest checkpoint is older than the
// tier's cadence allows.
type StaleError struct {
	Replica string
	Size    int64
	Age     time.Duration
	MaxAge  time.Duration
	// Since is the newest cosignature's timestamp (Evidence "cosignature
	// by <witness>"), or when the monitor first saw the replica at Size
	// (Evidence "first seen").
	Since    time.Time
	Evidence string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("monitor: stale: %s at size %d since %s (%s): %v old, at most %v",
		e.Replica, e.Size, e.Since.UTC().Format(time.RFC3339), e.Evidence, e.Age.Round(time.Second), e.MaxAge)
}

// SilenceError is a trading window in which the log holds no FIX-derived
// event for longer than allowed — while it keeps growing (SNC clock events
// arrive every minute), the pattern of a venue outage.
type SilenceError struct {
	// Window is the window's canonical form; Opened when this occurrence
	// opened.
	Window  string
	Opened  time.Time
	LastFIX EventMark // the newest FIX-derived event (or the bound before which none was found)
	LogTime EventMark // the newest event of any type
	Silence time.Duration
	Max     time.Duration
}

func (e *SilenceError) Error() string {
	return fmt.Sprintf("monitor: silence: no FIX-derived event for %v (at most %v) in window %q opened %s: newest FIX-derived event index %d at %s, newest event index %d at %s",
		e.Silence.Round(time.Second), e.Max, e.Window, e.Opened.UTC().Format(time.RFC3339),
		e.LastFIX.Index, time.Unix(0, e.LastFIX.TimeNs).UTC().Format(time.RFC3339Nano),
		e.LogTime.Index, time.Unix(0, e.LogTime.TimeNs).UTC().Format(time.RFC3339Nano))
}
