package replica

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by Shutdown when called twice.
	ErrClosed = errors.New("replica: closed")
	// ErrUnknownStore is wrapped when a store name is not configured.
	ErrUnknownStore = errors.New("replica: unknown store")
)

// ConflictError reports an object that already exists in a store with bytes
// other than ours: evidence under our name that we did not write, or a
// store that altered what we wrote. We never overwrite it; the store is no
// longer written until the replicator is restarted (after an operator has
// looked).
type ConflictError struct {
	Store, Key string
	// WantSHA256 is the SHA-256 (hex) of our bytes, GotSHA256 of the
	// store's.
	WantSHA256, GotSHA256 string
	// GotSize is the size of the store's object.
	GotSize int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("replica: store %s: object %s exists with other bytes (SHA-256 %s, %d bytes; ours %s): not overwritten",
		e.Store, e.Key, e.GotSHA256, e.GotSize, e.WantSHA256)
}

// ChecksumError reports a store that acknowledged an upload with an
// x-amz-checksum-sha256 other than the one we sent: the object is not
// counted as written (the next attempt's conditional create reads it back).
type ChecksumError struct {
	Store, Key string
	Want, Got  string // base64
	RequestID  string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("replica: store %s: object %s: echoed checksum %s, sent %s (request %s)", e.Store, e.Key, e.Got, e.Want, e.RequestID)
}

// CheckpointError reports a store's checkpoint object that does not match
// what we delivered there: missing, unparsable, older than our delivered
// size (rolled back), or of a root our tree does not have at its size.
// Found when the replicator starts; reported, not fixed (the next round
// overwrites it).
type CheckpointError struct {
	Store, Key string
	// Delivered is the tree size we delivered to the store.
	Delivered uint64
	// Size is the tree size the object states (when it parses).
	Size   uint64
	Reason string
	Err    error
}

func (e *CheckpointError) Error() string {
	s := fmt.Sprintf("replica: store %s: checkpoint object %s (we delivered size %d): %s", e.Store, e.Key, e.Delivered, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CheckpointError) Unwrap() error { return e.Err }

// AuditError reports an object whose bytes in a store differ from its
// receipt (SHA-256), or that is gone.
type AuditError struct {
	Store, Key string
	Receipt    *Receipt
	// GotSHA256 is the SHA-256 (hex) of the bytes read; empty when Missing.
	GotSHA256 string
	Missing   bool
}

func (e *AuditError) Error() string {
	if e.Missing {
		return fmt.Sprintf("replica: store %s: object %s is missing (receipt of tree size %d)", e.Store, e.Key, e.Receipt.TreeSize)
	}
	return fmt.Sprintf("replica: store %s: object %s has SHA-256 %s, its receipt %s", e.Store, e.Key, e.GotSHA256, e.Receipt.SHA256)
}
