package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
)

// Config configures an Indexer. Start from DefaultConfig.
type Config struct {
	// MaxRound caps the events indexed in one round (one Pebble batch):
	// the work between two yields is bounded.
	MaxRound int
	// MaxBusy is the share of one core, in percent, the Indexer may use
	// while it is behind: after a round that took d it rests
	// d×(100−MaxBusy)/MaxBusy. Indexing costs ~9 µs of CPU per event
	// (parsing, and Pebble's memtable inserts of ~6 keys), comparable to
	// unsigned ingest itself; on a saturated machine the Indexer lags
	// rather than take the ingest path's processor (lookups stay complete:
	// they scan the tail). 100 means no rest.
	MaxBusy int
	// Interval is how long the Indexer lets events accumulate once it has
	// caught up and the log has moved, so that a round carries many events
	// rather than one batch per group commit. Lookups never wait for it
	// (they scan the un-indexed tail).
	Interval time.Duration
	// Logger receives the Indexer's start, catch-up and failure; nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: rounds of up to 4096 events, at most
// half a core while behind, at most ten rounds a second once caught up.
func DefaultConfig() Config {
	return Config{MaxRound: 4096, MaxBusy: 50, Interval: 100 * time.Millisecond}
}

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("index: invalid config")

// Validate checks the config.
func (c Config) Validate() error {
	if c.MaxRound < 1 || c.MaxRound > 1<<20 {
		return fmt.Errorf("%w: MaxRound %d, want 1..%d", ErrInvalidConfig, c.MaxRound, 1<<20)
	}
	if c.MaxBusy < 1 || c.MaxBusy > 100 {
		return fmt.Errorf("%w: MaxBusy %d%%, want 1..100", ErrInvalidConfig, c.MaxBusy)
	}
	if c.Interval < 0 || c.Interval > time.Minute {
		return fmt.Errorf("%w: Interval %v, want 0..1m", ErrInvalidConfig, c.Interval)
	}
	return nil
}

// LogValue logs the config (nothing in it is secret).
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("max_round", c.MaxRound), slog.Int("max_busy_percent", c.MaxBusy),
		slog.Duration("interval", c.Interval))
}

// Indexer builds the index behind the log: one goroutine that indexes the
// durable events from its watermark on, in rounds, and then follows the
// log's durable watermark. It is never in the acknowledged path: the
// committer never waits for it, and it reads only durable records.
//
// Each round writes the keys of up to MaxRound events and the new watermark
// in one Pebble batch, without fsync (pebble.NoSync): the index is derived
// data, so a crash that loses the last rounds only moves the watermark
// back, and the next Indexer re-indexes from there (re-writing a key is
// idempotent). A round's keys and its watermark are in one batch, so they
// are recovered together or not at all. The round's bytes go into the same
// WAL as the events and reach the disk with the next group commit's fsync.
//
// Lifecycle: New starts the goroutine; it runs until Shutdown or until
// New's ctx ends, whichever comes first. Shutdown must be called, and must
// return, before the log is closed.
type Indexer struct {
	l      *chain.Log
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the error that stopped the goroutine; read after done

	watermark atomic.Uint64
}

// New checks the index in l's DB — an index of another format, or keys
// without a format, are deleted so that the index is rebuilt from seq 0 —
// and starts the Indexer.
func New(ctx context.Context, l *chain.Log, cfg Config) (*Indexer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	ix := &Indexer{l: l, cfg: cfg, log: lg.With("component", "index"), done: make(chan struct{})}
	w, ok, err := readState(l.DB())
	var we *WatermarkError
	switch {
	case errors.As(err, &we):
		ix.log.Warn("index watermark is corrupt; rebuilding the index", "err", err)
		ok = false
	case err != nil:
		return nil, err
	}
	if !ok {
		if err := reset(l.DB()); err != nil {
			return nil, err
		}
		w = 0
	}
	if d := l.Durable(); w > d {
		// The index was written against a longer log: not this one.
		ix.log.Warn("index watermark beyond the log; rebuilding the index", "watermark", w, "log_size", d)
		if err := reset(l.DB()); err != nil {
			return nil, err
		}
		w = 0
	}
	ix.watermark.Store(w)
	ix.log.Info("indexer starting", "config", cfg, "watermark", w, "log_size", l.Durable())
	ctx, ix.cancel = context.WithCancel(ctx)
	go ix.run(ctx)
	return ix, nil
}

// reset deletes every index key and writes an empty index of this format.
func reset(db *pebble.DB) error {
	b := db.NewBatch()
	defer b.Close()
	_ = b.DeleteRange([]byte{chain.PrefixIndex}, []byte{chain.PrefixIndex + 1}, nil)
	_ = b.Set(keyFormat, []byte(formatName), nil)
	_ = b.Set(keyWatermark, binary.BigEndian.AppendUint64(nil, 0), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index: reset: %w", err)
	}
	return nil
}

// Watermark returns the Indexer's watermark: every seq below it is indexed.
func (ix *Indexer) Watermark() uint64 { return ix.watermark.Load() }

// Shutdown stops the Indexer after its current round and waits for it (or
// for ctx). It does not catch up first: the next Indexer resumes from the
// watermark. It returns the error that stopped the Indexer early, if any
// (the log stopping is not one). Call it before closing the log.
func (ix *Indexer) Shutdown(ctx context.Context) error {
	ix.cancel()
	select {
	case <-ix.done:
		return ix.err
	case <-ctx.Done():
		return fmt.Errorf("index: shutdown: %w", ctx.Err())
	}
}

// run is the Indexer's goroutine.
func (ix *Indexer) run(ctx context.Context) {
	defer close(ix.done)
	var kbuf []byte
	w := ix.watermark.Load()
	caughtUp := false
	for {
		d := ix.l.Durable()
		if w >= d {
			if !caughtUp {
				ix.log.Info("index caught up", "watermark", w)
				caughtUp = true
			}
			// Wait for the log to move, then let a round's worth gather.
			if err := ix.l.WaitDurable(ctx, w+1); err != nil {
				if ctx.Err() == nil && !errors.Is(err, chain.ErrStopped) {
					ix.fail(err)
				}
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(ix.cfg.Interval):
			}
			continue
		}
		end := min(d, w+uint64(ix.cfg.MaxRound))
		start := clock.Wall()
		var err error
		if kbuf, err = ix.round(ctx, w, end, kbuf); err != nil {
			if ctx.Err() == nil {
				ix.fail(err)
			}
			return
		}
		w = end
		ix.watermark.Store(w)
		if w < d {
			caughtUp = false
			// Behind: rest in proportion to the round's work, so that the
			// ingest path keeps the processor.
			if rest := clock.Wall().Sub(start) * time.Duration(100-ix.cfg.MaxBusy) / time.Duration(ix.cfg.MaxBusy); rest > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(rest):
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (ix *Indexer) fail(err error) {
	ix.err = err
	ix.log.Error("indexer stopped; lookups scan the un-indexed tail", "watermark", ix.watermark.Load(), "err", err)
}

// round indexes [from, to) in one batch with the watermark to.
func (ix *Indexer) round(ctx context.Context, from, to uint64, kbuf []byte) ([]byte, error) {
	db := ix.l.DB()
	b := db.NewBatch()
	defer b.Close()
	set := func(k []byte) { _ = b.Set(k, nil, nil) }
	err := scanRecords(ctx, db, from, to, func(seq uint64, f *fields) error {
		kbuf = f.keys(kbuf, seq, set)
		return nil
	})
	if err != nil {
		return kbuf, err
	}
	_ = b.Set(keyWatermark, binary.BigEndian.AppendUint64(kbuf[:0], to), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return kbuf, fmt.Errorf("index: write seq %d..%d: %w", from, to-1, err)
	}
	return kbuf, nil
}
