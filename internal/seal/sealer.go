package seal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// Config configures a Sealer. Start from DefaultConfig.
type Config struct {
	// Origin is the checkpoint's first line, the log's identity
	// (C2SP tlog-checkpoint), e.g. "fixtap.example.com/tap-1".
	Origin string
	// Key signs checkpoints. Stored checkpoints are verified with it when
	// read, so rotating it needs a migration (not provided yet).
	Key *Key
	// Interval is the checkpoint cadence while the tree grows: at most one
	// checkpoint per Interval, and one within an Interval of an event
	// becoming durable. 0 < Interval ≤ 1s (the profile asks for at least
	// one a second).
	Interval time.Duration
	// MaxBatch caps the leaves added in one Pebble batch.
	MaxBatch int
	// Logger receives the sealer's messages; nil means slog.Default().
	Logger *slog.Logger
	// OnCheckpoint, if set, is called on the sealer's goroutine after each
	// new checkpoint is stored (fixtap's metrics note its age). It must
	// not block.
	OnCheckpoint func(*Checkpoint)
}

// DefaultConfig returns the defaults: a checkpoint every 500ms while events
// arrive (so an event is covered by a signed checkpoint within about half a
// second of being durable), 16384 leaves per batch.
func DefaultConfig(origin string, key *Key) Config {
	return Config{Origin: origin, Key: key, Interval: 500 * time.Millisecond, MaxBatch: 16384}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if err := checkOrigin(c.Origin); err != nil {
		errs = append(errs, err)
	}
	if c.Key == nil || c.Key.Signer == nil || c.Key.Verifier == nil {
		errs = append(errs, errors.New("Key is missing"))
	}
	if c.Interval <= 0 || c.Interval > time.Second {
		errs = append(errs, fmt.Errorf("Interval %v: want 0 < interval ≤ 1s", c.Interval))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("MaxBatch %d: want ≥ 1", c.MaxBatch))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("seal: config: %w", err)
	}
	return nil
}

func checkOrigin(o string) error {
	if o == "" || len(o) > maxOrigin || !utf8.ValidString(o) || strings.ContainsFunc(o, isControl) {
		return fmt.Errorf("Origin %q: want 1–%d bytes of UTF-8, no control characters", o, maxOrigin)
	}
	return nil
}

// LogValue keeps key material out of logs.
func (c Config) LogValue() slog.Value {
	var vkey string
	if c.Key != nil {
		vkey = c.Key.VerifierKey
	}
	return slog.GroupValue(
		slog.String("origin", c.Origin),
		slog.String("verifier_key", vkey),
		slog.Duration("interval", c.Interval),
		slog.Int("max_batch", c.MaxBatch),
	)
}

// A Sealer keeps the RFC 6962 tree of a chain.Log and its checkpoints.
//
// Lifecycle: New recovers the stored tree and checkpoint, checks them
// against the log, and starts one goroutine, which runs until Shutdown (or
// Close), until ctx is cancelled, or until it fails. Shutdown makes a last
// round — the tree extended to the durable watermark and a checkpoint cut
// over it — and must come before the chain.Log's Close, because the tree
// lives in the log's Pebble DB. Reads (TreeHash, Latest, Checkpoint,
// proofs) may run concurrently with the goroutine, and after Shutdown while
// the log is open.
type Sealer struct {
	log    *chain.Log
	db     *pebble.DB
	cfg    Config
	logger *slog.Logger
	known  note.Verifiers

	size atomic.Uint64 // tree size whose hashes are committed to Pebble

	// Goroutine-owned.
	w      hashReader
	leaves []tlog.Hash

	mu     sync.Mutex
	latest *Checkpoint   // newest stored checkpoint; nil if none
	notify chan struct{} // closed and replaced when latest changes
	err    error         // why the goroutine stopped, if it failed

	readOnly bool // OpenReader: no goroutine, no writes
	cancel   context.CancelFunc
	closing  atomic.Bool
	abort    chan struct{} // closed when Shutdown's ctx expires: skip the last round
	done     chan struct{}
}

// New opens the sealer of l and starts it. It refuses a stored tree that
// covers events the log no longer holds (*TruncatedLogError), whose newest
// leaf is not the leaf of the log's event (*LeafMismatchError), or whose
// newest checkpoint it does not reproduce (*InconsistentError).
func New(ctx context.Context, l *chain.Log, cfg Config) (*Sealer, error) {
	s, err := open(l, cfg)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go s.run(runCtx)
	return s, nil
}

// open recovers the sealer's state without starting its goroutine.
func open(l *chain.Log, cfg Config) (*Sealer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return recoverSealer(l, cfg, cfg.Key.Verifier)
}

// recoverSealer reads the stored tree and newest checkpoint and checks them
// against the log and each other (see New); it writes nothing.
func recoverSealer(l *chain.Log, cfg Config, verifier note.Verifier) (*Sealer, error) {
	s := &Sealer{
		log:    l,
		db:     l.DB(),
		cfg:    cfg,
		logger: cfg.Logger,
		known:  note.VerifierList(verifier),
		notify: make(chan struct{}),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	size, err := readTreeSize(s.db)
	if err != nil {
		return nil, err
	}
	if d := l.Durable(); size > d {
		return nil, &TruncatedLogError{TreeSize: size, LogSize: d}
	}
	s.size.Store(size)
	s.w = hashReader{db: s.db, base: tlog.StoredHashCount(int64(size))}
	r := s.reader()
	if size > 0 {
		rec, err := l.Get(size - 1)
		if err != nil {
			return nil, fmt.Errorf("seal: read event %d: %w", size-1, err)
		}
		hs, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(size-1))})
		if err != nil {
			return nil, err
		}
		if want := LeafHash(rec.Hash); hs[0] != want {
			return nil, &LeafMismatchError{Seq: size - 1, Stored: hs[0], Want: want}
		}
	}
	latest, err := s.readLatest()
	if err != nil {
		return nil, err
	}
	if latest != nil {
		if latest.Size > size {
			return nil, fmt.Errorf("seal: %w: checkpoint %d is beyond the stored tree (%d)", ErrMalformed, latest.Size, size)
		}
		if latest.Origin != cfg.Origin {
			return nil, fmt.Errorf("seal: stored checkpoint %d has origin %q, configured %q", latest.Size, latest.Origin, cfg.Origin)
		}
		root, err := treeHash(latest.Size, r)
		if err != nil {
			return nil, err
		}
		if root != latest.Root {
			return nil, &InconsistentError{OldSize: latest.Size, NewSize: latest.Size, OldRoot: latest.Root, NewRoot: root,
				Err: errors.New("the stored tree does not reproduce the checkpoint's root")}
		}
	}
	s.latest = latest
	return s, nil
}

// reader returns a HashReader over the committed hashes.
func (s *Sealer) reader() *hashReader { return &hashReader{db: s.db, base: math.MaxInt64} }

// readLatest reads the newest stored checkpoint (nil if none).
func (s *Sealer) readLatest() (*Checkpoint, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{chain.PrefixCheckpt},
		UpperBound: []byte{chain.PrefixCheckpt + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("seal: iterate checkpoints: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("seal: iterate checkpoints: %w", err)
		}
		return nil, nil
	}
	k := it.Key()
	if len(k) != 9 {
		return nil, fmt.Errorf("seal: checkpoint key %x: %w", k, ErrMalformed)
	}
	return decodeCheckpointRecord(beUint64(k[1:]), it.Value(), s.known)
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
func (s *Sealer) run(ctx context.Context) {
	defer close(s.done)
	err := s.loop(ctx)
	if err != nil {
		s.logger.Error("seal: stopped", "err", err)
	}
	s.mu.Lock()
	s.err = err
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// loop extends the tree whenever the durable watermark advances and cuts a
// checkpoint at each tick that finds the tree grown.
func (s *Sealer) loop(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		if _, err := s.extend(); err != nil {
			return err
		}
		select {
		case <-tick.C:
			if err := s.cut(); err != nil {
				return err
			}
		default:
		}
		wctx, cancel := context.WithTimeout(ctx, s.cfg.Interval)
		err := s.log.WaitDurable(wctx, s.size.Load()+1)
		cancel()
		switch {
		case ctx.Err() != nil && s.closing.Load():
			// Shutdown: a last round over everything durable.
			if err := s.extendAll(); err != nil {
				return err
			}
			return s.cut()
		case ctx.Err() != nil:
			return fmt.Errorf("seal: stopped: %w", context.Cause(ctx))
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("seal: chain: %w", err)
		}
	}
}

// extend adds the leaves of up to MaxBatch durable events to the tree in
// one Pebble batch and reports whether the tree grew. The loop calls it
// between its other duties, so a long catch-up after a restart still cuts
// checkpoints and still stops promptly.
func (s *Sealer) extend() (bool, error) {
	size, durable := s.size.Load(), s.log.Durable()
	if size >= durable {
		return false, nil
	}
	to := min(durable, size+uint64(s.cfg.MaxBatch))
	s.leaves = s.leaves[:0]
	err := s.log.Range(size, to, func(r *chain.Record) error {
		s.leaves = append(s.leaves, LeafHash(r.Hash))
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("seal: read events [%d, %d): %w", size, to, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := appendLeaves(b, &s.w, size, s.leaves); err != nil {
		return false, err
	}
	// NoSync: the tree can be recomputed from the events, the hashes and
	// the size land atomically, and the checkpoint's Sync write makes
	// everything before it durable (one WAL, in order).
	if err := b.Commit(pebble.NoSync); err != nil {
		return false, fmt.Errorf("seal: commit tree [%d, %d): %w", size, to, err)
	}
	s.w.base, s.w.pending = tlog.StoredHashCount(int64(to)), s.w.pending[:0]
	s.size.Store(to)
	return true, nil
}

// extendAll extends the tree to the durable watermark, batch by batch,
// unless Shutdown's deadline passes (errShutdownAborted).
func (s *Sealer) extendAll() error {
	for {
		select {
		case <-s.abort:
			return errShutdownAborted
		default:
		}
		grew, err := s.extend()
		if err != nil || !grew {
			return err
		}
	}
}

var errShutdownAborted = errors.New("seal: shutdown deadline passed before the last round finished")

// cut signs and stores a checkpoint of the current tree if it has grown
// since the latest one, after proving the new tree consistent with it
// (RFC 6962 §2.1.2 consistency, via tlog.ProveTree and tlog.CheckTree).
func (s *Sealer) cut() error {
	n := s.size.Load()
	s.mu.Lock()
	latest := s.latest
	s.mu.Unlock()
	if n == 0 || (latest != nil && latest.Size >= n) {
		return nil
	}
	r := s.reader()
	root, err := treeHash(n, r)
	if err != nil {
		return err
	}
	if latest != nil {
		if err := checkConsistent(r, latest, n, root); err != nil {
			return err
		}
	}
	c, err := signCheckpoint(s.cfg.Key, s.cfg.Origin, n, root)
	if err != nil {
		return err
	}
	// Sync: a checkpoint may leave the process (anchors, exports) only
	// once it is on disk.
	if err := s.db.Set(checkpointKey(n), appendCheckpointRecord(nil, c), pebble.Sync); err != nil {
		return fmt.Errorf("seal: store checkpoint %d: %w", n, err)
	}
	s.mu.Lock()
	s.latest = c
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if s.cfg.OnCheckpoint != nil {
		s.cfg.OnCheckpoint(c)
	}
	return nil
}

// checkConsistent proves the tree of size n with root newRoot consistent
// with the signed checkpoint old, or returns an *InconsistentError.
func checkConsistent(r tlog.HashReader, old *Checkpoint, n uint64, newRoot tlog.Hash) error {
	fail := func(err error) error {
		return &InconsistentError{OldSize: old.Size, NewSize: n, OldRoot: old.Root, NewRoot: newRoot, Err: err}
	}
	switch {
	case n < old.Size:
		return fail(errors.New("the tree shrank"))
	case old.Size == 0:
		if old.Root != emptyRoot {
			return fail(errors.New("the empty checkpoint's root is not SHA-256()"))
		}
		return nil
	case n == old.Size:
		if newRoot != old.Root {
			return fail(errors.New("two roots for one tree size"))
		}
		return nil
	}
	p, err := tlog.ProveTree(int64(n), int64(old.Size), r)
	if err != nil {
		return fail(err)
	}
	if err := tlog.CheckTree(p, int64(n), newRoot, int64(old.Size), old.Root); err != nil {
		return fail(err)
	}
	return nil
}

// Shutdown stops the sealer after a last round (see Sealer) and returns
// why it stopped if it failed. If ctx expires first, the last round is cut
// short after the batch in hand (the tree stays valid; the next start
// catches up) and Shutdown still waits for the goroutine, so the chain.Log
// may be closed as soon as it returns.
func (s *Sealer) Shutdown(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if s.readOnly {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		close(s.abort)
		<-s.done
	}
	return s.Err()
}

// Close is Shutdown without a deadline.
func (s *Sealer) Close() error { return s.Shutdown(context.Background()) }

// Err returns the error that stopped the sealer, or nil.
func (s *Sealer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Size returns the size of the sealed tree: every seq below it has its
// leaf stored. It never exceeds the chain's durable watermark.
func (s *Sealer) Size() uint64 { return s.size.Load() }

// TreeHash returns the root of the tree of the first size leaves
// (RFC 6962 §2.1 MTH), size ≤ Size().
func (s *Sealer) TreeHash(size uint64) (tlog.Hash, error) {
	if n := s.Size(); size > n {
		return tlog.Hash{}, fmt.Errorf("%w: tree size %d, sealed %d", ErrNotSealed, size, n)
	}
	return treeHash(size, s.reader())
}

// HashReader returns a tlog.HashReader over the stored tree hashes: any
// hash of a tree of size ≤ Size() (tlog.ReadTileData, tlog.ProveTree and
// tlog.TreeHash read through it). Safe for concurrent use.
func (s *Sealer) HashReader() tlog.HashReader { return s.reader() }

// Changed returns a channel closed when the newest checkpoint changes (or
// the sealer stops), for consumers that follow checkpoints — witnessing,
// replication — without polling. Take it before calling Latest, so no
// change falls between the two.
func (s *Sealer) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// Latest returns the newest checkpoint; ErrNoCheckpoint before the first.
func (s *Sealer) Latest() (*Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest == nil {
		return nil, ErrNoCheckpoint
	}
	return s.latest, nil
}

// WaitCheckpoint waits until a checkpoint covers size events (its size ≥
// size) and returns the newest one.
// A reader (OpenReader) returns at once: the newest checkpoint if it
// covers size, else an error wrapping ErrReadOnly.
func (s *Sealer) WaitCheckpoint(ctx context.Context, size uint64) (*Checkpoint, error) {
	if s.readOnly {
		if c := s.latest; c != nil && c.Size >= size {
			return c, nil
		}
		return nil, fmt.Errorf("%w: no checkpoint covers %d events", ErrReadOnly, size)
	}
	for {
		s.mu.Lock()
		c, ch, err := s.latest, s.notify, s.err
		s.mu.Unlock()
		if c != nil && c.Size >= size {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		select {
		case <-ch:
		case <-s.done:
			s.mu.Lock()
			c, err = s.latest, s.err
			s.mu.Unlock()
			if c != nil && c.Size >= size {
				return c, nil
			}
			if err == nil {
				err = ErrClosed
			}
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Checkpoint returns the stored checkpoint of tree size size, verified with
// the configured key.
func (s *Sealer) Checkpoint(size uint64) (*Checkpoint, error) {
	v, closer, err := s.db.Get(checkpointKey(size))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w at tree size %d", ErrNoCheckpoint, size)
	}
	if err != nil {
		return nil, fmt.Errorf("seal: read checkpoint %d: %w", size, err)
	}
	defer closer.Close()
	return decodeCheckpointRecord(size, v, s.known)
}
