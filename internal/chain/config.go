package chain

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// FormatMajorVersion is the Pebble on-disk format the log is created with
// and ratcheted to. Pinned so that a dependency bump never silently
// upgrades (and so strands) an evidence store; change it deliberately.
const FormatMajorVersion = pebble.FormatValueSeparation

// Durability says when a group commit becomes durable.
type Durability int

const (
	// SyncPerGroup fsyncs the WAL in every group commit: an event is durable
	// when its commit returns. Groups grow with load, so one fsync covers
	// everything queued while the previous one ran.
	SyncPerGroup Durability = iota
	// SyncInterval commits without waiting for the disk and fsyncs the WAL
	// every SyncInterval; the durable watermark advances after each fsync.
	// A crash loses at most the last interval — and loses each session's
	// MsgSeqNum counter with it, so the counterparty resends.
	SyncInterval
)

func (d Durability) String() string {
	switch d {
	case SyncPerGroup:
		return "group"
	case SyncInterval:
		return "interval"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// ParseDurability parses "group" or "interval".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "group":
		return SyncPerGroup, nil
	case "interval":
		return SyncInterval, nil
	}
	return 0, fmt.Errorf("chain: durability %q: want \"group\" or \"interval\"", s)
}

// Config configures a Log. Start from DefaultConfig.
type Config struct {
	// Dir is the Pebble directory.
	Dir string
	// FS is the file system; nil means the real one. Crash tests pass
	// vfs.NewCrashableMem().
	FS vfs.FS
	// Durability and SyncInterval: see Durability.
	Durability   Durability
	SyncInterval time.Duration
	// Signer signs every event beside the chain; nil appends unsigned
	// events (benchmarks; later opened with a signer, they are signed).
	Signer *Signer
	// SignWorkers is the number of signing goroutines.
	SignWorkers int
	// MaxBatch caps the events of one group commit; QueueLen bounds the
	// append queue (Append blocks when it is full: honest backpressure).
	MaxBatch int
	QueueLen int
	// TailCheck is how many of the newest records are re-hashed and
	// re-linked on open; negative means all.
	TailCheck int
	// Fatal is called when storage fails in a way Pebble cannot recover
	// from (a failed WAL write or fsync). It must not return: fixtap's main
	// passes a function that exits the process. Nil means panic.
	Fatal func(error)
	// Logger receives Pebble's and the log's messages; nil means slog.Default().
	Logger *slog.Logger
	// ReadOnly opens an existing log for reading only (tools: export,
	// show, proof). Pebble is opened with Options.ReadOnly: nothing is
	// written, flushed or signed and no goroutine of the log is started;
	// Durable() is the stored log size, which never grows. Get, Range and
	// Durable work; Append, AppendWait, Write and Sync fail with
	// ErrReadOnly. A directory without the log's format record is refused
	// with a *NotLogError. Signer must be nil; Durability, SyncInterval,
	// SignWorkers, MaxBatch and QueueLen are ignored. Pebble still takes
	// its exclusive LOCK, so a read-only open fails while a tap holds the
	// directory: read a running tap's data through a checkpoint
	// (internal/snapshot).
	ReadOnly bool
	// Now, if set, times each group commit for Log.CommitLatency (read
	// twice per group, never per event). fixtap passes clock.Wall; chain
	// itself never reads wall time.
	Now func() time.Time
}

// DefaultConfig returns the defaults: fsync per group commit, signing
// workers = GOMAXPROCS, the last 4096 records re-checked on open.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:          dir,
		Durability:   SyncPerGroup,
		SyncInterval: 5 * time.Millisecond,
		SignWorkers:  runtime.GOMAXPROCS(0),
		MaxBatch:     4096,
		QueueLen:     16384,
		TailCheck:    4096,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("Dir is empty"))
	}
	if c.ReadOnly {
		if c.Signer != nil {
			errs = append(errs, errors.New("ReadOnly with a Signer: a read-only log signs nothing"))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("chain: config: %w", err)
		}
		return nil
	}
	switch c.Durability {
	case SyncPerGroup:
	case SyncInterval:
		if c.SyncInterval <= 0 || c.SyncInterval > time.Second {
			errs = append(errs, fmt.Errorf("SyncInterval %v: want 0 < interval ≤ 1s", c.SyncInterval))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown durability %d", int(c.Durability)))
	}
	if c.SignWorkers < 1 {
		errs = append(errs, fmt.Errorf("SignWorkers %d: want ≥ 1", c.SignWorkers))
	}
	if c.MaxBatch < 1 || c.QueueLen < 1 {
		errs = append(errs, fmt.Errorf("MaxBatch %d, QueueLen %d: want ≥ 1", c.MaxBatch, c.QueueLen))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chain: config: %w", err)
	}
	return nil
}

// LogValue keeps key material out of logs.
func (c Config) LogValue() slog.Value {
	var key string
	if c.Signer != nil {
		key = c.Signer.KeyID().String()
	}
	return slog.GroupValue(
		slog.String("dir", c.Dir),
		slog.String("durability", c.Durability.String()),
		slog.Duration("sync_interval", c.SyncInterval),
		slog.String("key_id", key),
		slog.Int("sign_workers", c.SignWorkers),
		slog.Int("max_batch", c.MaxBatch),
		slog.Int("tail_check", c.TailCheck),
		slog.Bool("read_only", c.ReadOnly),
	)
}
