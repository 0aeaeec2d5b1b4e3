package seal

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

var (
	// ErrClosed is returned by a Sealer after Close.
	ErrClosed = errors.New("seal: closed")
	// ErrNotSealed is wrapped when a size or seq lies beyond the sealed tree.
	ErrNotSealed = errors.New("seal: beyond the sealed tree")
	// ErrNoCheckpoint is wrapped when no checkpoint is stored (at a size).
	ErrNoCheckpoint = errors.New("seal: no checkpoint")
	// ErrMalformed is wrapped by every decoding error of a stored record or
	// checkpoint note.
	ErrMalformed = errors.New("seal: malformed")
)

// InconsistentError reports a tree of NewSize leaves whose root NewRoot does
// not extend the signed checkpoint (OldSize, OldRoot). The sealer refuses to
// sign it and stops: two inconsistent signed checkpoints would be proof of a
// forked log.
type InconsistentError struct {
	OldSize, NewSize uint64
	OldRoot, NewRoot tlog.Hash
	Err              error // what tlog.CheckTree (or ProveTree) said
}

func (e *InconsistentError) Error() string {
	return fmt.Sprintf("seal: tree %d (root %s) is not consistent with checkpoint %d (root %s): %v",
		e.NewSize, e.NewRoot, e.OldSize, e.OldRoot, e.Err)
}

func (e *InconsistentError) Unwrap() error { return e.Err }

// TruncatedLogError reports a stored tree that covers more events than the
// chain holds: events that were durable and sealed are gone.
type TruncatedLogError struct {
	TreeSize, LogSize uint64
}

func (e *TruncatedLogError) Error() string {
	return fmt.Sprintf("seal: tree covers %d events but the log holds %d: sealed events are missing", e.TreeSize, e.LogSize)
}

// LeafMismatchError reports a stored leaf hash that is not the leaf hash of
// the event the log holds at Seq.
type LeafMismatchError struct {
	Seq          uint64
	Stored, Want tlog.Hash
}

func (e *LeafMismatchError) Error() string {
	return fmt.Sprintf("seal: leaf %d: stored %s, event gives %s", e.Seq, e.Stored, e.Want)
}
