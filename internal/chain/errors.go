package chain

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("chain: log closed")
	// ErrStopped is wrapped by every error returned after a commit or fsync
	// failure: the log stops, and no later event is acknowledged while an
	// earlier one is not durable.
	ErrStopped = errors.New("chain: log stopped")
	// ErrNotDurable is returned when a reader asks for a seq beyond the
	// durable watermark.
	ErrNotDurable = errors.New("chain: seq not yet durable")
	// ErrNotFound is returned for a seq the log does not hold.
	ErrNotFound = errors.New("chain: no such seq")
	// ErrReadOnly is returned by Append, AppendWait, Write, Sync and
	// WaitDurable (beyond the stored size) of a log opened with
	// Config.ReadOnly.
	ErrReadOnly = errors.New("chain: log opened read-only")
)

// NotLogError refuses to open a directory that does not hold a fixtap log:
// no Pebble DB there (read-only opens create nothing), or a DB without the
// log's format record or with another format.
type NotLogError struct {
	Dir string
	// Format is the stored format record; empty when there is none.
	Format string
	// Err is why Pebble could not open Dir, if it could not.
	Err error
}

func (e *NotLogError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("chain: %s is not a fixtap log: %v", e.Dir, e.Err)
	case e.Format == "":
		return fmt.Sprintf("chain: %s is not a fixtap log: no format record (want %q)", e.Dir, formatName)
	}
	return fmt.Sprintf("chain: %s is not a fixtap log: format %q, want %q", e.Dir, e.Format, formatName)
}

func (e *NotLogError) Unwrap() error { return e.Err }

// InvalidEventError refuses an event whose fields break the profile.
type InvalidEventError struct {
	Field  string
	Reason string
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("chain: invalid event: %s: %s", e.Field, e.Reason)
}

// StoppedError is the sticky error of a log that can no longer append.
type StoppedError struct {
	// FirstSeq and LastSeq bound the group commit that failed.
	FirstSeq, LastSeq uint64
	// Durable is the durable watermark when the log stopped: every seq below
	// it is on disk; no seq at or above it was acknowledged.
	Durable uint64
	Err     error
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("chain: log stopped: commit of seq %d..%d failed, durable watermark stays at %d and no later event will be acknowledged: %v",
		e.FirstSeq, e.LastSeq, e.Durable, e.Err)
}

func (e *StoppedError) Unwrap() []error { return []error{ErrStopped, e.Err} }

// CorruptRecordError reports a stored record that cannot be decoded.
type CorruptRecordError struct {
	Seq uint64
	Err error
}

func (e *CorruptRecordError) Error() string {
	return fmt.Sprintf("chain: corrupt record at seq %d: %v", e.Seq, e.Err)
}
func (e *CorruptRecordError) Unwrap() error { return e.Err }

// MissingRecordError reports a seq the log should hold but does not.
type MissingRecordError struct {
	Seq  uint64
	Head uint64 // the log's recorded size
}

func (e *MissingRecordError) Error() string {
	return fmt.Sprintf("chain: missing record at seq %d (log size %d)", e.Seq, e.Head)
}

// BrokenLinkError reports a record whose hash or chain link does not hold.
type BrokenLinkError struct {
	Seq    uint64
	What   string // "EventHash" (recomputed vs stored) or "PrevHash" (stored vs previous EventHash)
	Stored Hash
	Want   Hash
}

func (e *BrokenLinkError) Error() string {
	return fmt.Sprintf("chain: broken chain at seq %d: %s stored %s, recomputed %s", e.Seq, e.What, e.Stored, e.Want)
}
