package replica

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/seal"
)

// cacheBytes bounds the objects kept for the other stores (about 90 events
// bundles): stores moving together build each object once; a store a step
// or more behind builds its own.
const cacheBytes = 16 << 20

// A Replicator publishes the log to its stores (doc.go).
//
// Lifecycle: New reads each store's state and starts one goroutine per
// store (an errgroup), which runs until Shutdown or until ctx is
// cancelled. Shutdown lets each store that is up make a last round to the
// newest published checkpoint (bounded by its ctx), so shut the Sealer
// (and the witness) down first — its last checkpoint is then replicated —
// and close the chain.Log after: the replicator reads the log, the tree
// and its own state in the log's Pebble DB. Delivered, WaitDelivered,
// Status, Receipts and Audit may be called concurrently, and after
// Shutdown while the log is open.
type Replicator struct {
	cfg    Config
	log    *chain.Log
	tree   *seal.Sealer
	hashes tlog.HashReader
	db     *pebble.DB
	src    Source
	logger *slog.Logger
	stores []*store
	cache  *objCache
	// lineSize is the bytes per event an events bundle's buffer starts
	// with: the last bundle's mean line plus a margin.
	lineSize atomic.Int64

	mu     sync.Mutex
	notify chan struct{} // closed and replaced when a store delivers

	closing chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	shut    atomic.Bool
}

// store is one store's replication state.
type store struct {
	cfg    Store
	id     [8]byte
	bucket *bucket

	delivered atomic.Uint64

	st state // the stored state; owned by the store's goroutine

	mu      sync.Mutex
	down    bool
	since   time.Time
	lastErr error
	stopped bool
}

// StoreStatus is one store's replication status.
type StoreStatus struct {
	Name string
	// Delivered is the tree size the store holds completely (its
	// checkpoint object included); Lag the published size minus it.
	Delivered, Lag uint64
	// Down is set while the store is failing (Since: when the episode
	// began) or stopped after an alarm (Stopped). LastErr is the last
	// error of the episode.
	Down    bool
	Stopped bool
	Since   time.Time
	LastErr error
}

// New starts replicating the log l, whose tree and checkpoints tree keeps,
// to cfg.Stores, publishing what src publishes (SealerSource, or the
// witness's cosigned checkpoints). It refuses a stored state that does not
// match the tree (a delivered size beyond it, or another root at that
// size: the DB is not the one replicated).
func New(ctx context.Context, l *chain.Log, tree *seal.Sealer, src Source, cfg Config) (*Replicator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if l == nil || tree == nil || src == nil {
		return nil, errors.New("replica: New needs a log, a tree and a source")
	}
	r := &Replicator{
		cfg: cfg, log: l, tree: tree, hashes: tree.HashReader(), db: l.DB(), src: src,
		logger: cfg.Logger, notify: make(chan struct{}), closing: make(chan struct{}), done: make(chan struct{}),
		cache: newObjCache(cacheBytes),
	}
	r.lineSize.Store(1024)
	if r.logger == nil {
		r.logger = slog.Default()
	}
	for _, sc := range cfg.Stores {
		s := &store{cfg: sc, id: storeID(sc.Name), bucket: newBucket(sc, cfg.RequestTimeout, cfg.Parallel)}
		if err := r.loadState(s); err != nil {
			return nil, err
		}
		s.delivered.Store(s.st.Delivered)
		r.stores = append(r.stores, s)
	}
	r.logger.Info("replica: starting", "config", cfg, "delivered", r.Delivered())
	runCtx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	var g errgroup.Group
	for _, s := range r.stores {
		g.Go(func() error {
			r.run(runCtx, s)
			return nil
		})
	}
	go func() {
		g.Wait()
		close(r.done)
	}()
	return r, nil
}

// loadState reads s's stored state and checks it against the tree.
func (r *Replicator) loadState(s *store) error {
	fresh := state{Store: s.cfg.Name, Endpoint: s.cfg.Endpoint, Bucket: s.cfg.Bucket, Prefix: s.cfg.Prefix}
	// Receipts are never overwritten, even if the state were lost.
	next, err := r.nextReceipt(s.id)
	if err != nil {
		return fmt.Errorf("replica: store %s: %w", s.cfg.Name, err)
	}
	fresh.NextReceipt = next
	v, closer, err := r.db.Get(stateKey(s.id))
	if errors.Is(err, pebble.ErrNotFound) {
		s.st = fresh
		return nil
	}
	if err != nil {
		return fmt.Errorf("replica: store %s: read state: %w", s.cfg.Name, err)
	}
	st, err := decodeState(v)
	closer.Close()
	if err != nil {
		return fmt.Errorf("replica: store %s: %w", s.cfg.Name, err)
	}
	if st.Store != s.cfg.Name {
		return fmt.Errorf("replica: store %s: its state key holds the state of store %q", s.cfg.Name, st.Store)
	}
	if st.Endpoint != s.cfg.Endpoint || st.Bucket != s.cfg.Bucket || st.Prefix != s.cfg.Prefix {
		r.logger.Warn("replica: store moved: starting it over from tree size 0",
			"store", s.cfg.Name, "was", st.Endpoint+"/"+st.Bucket+"/"+st.Prefix, "delivered_there", st.Delivered)
		s.st = fresh
		return nil
	}
	if n := r.tree.Size(); st.Uploaded > n {
		return fmt.Errorf("replica: store %s: state says tree size %d was uploaded, the sealed tree has %d: not the replicated log", s.cfg.Name, st.Uploaded, n)
	}
	if st.Delivered > 0 {
		want, _ := st.root()
		got, err := tlog.TreeHash(int64(st.Delivered), r.hashes)
		if err != nil {
			return fmt.Errorf("replica: store %s: tree hash %d: %w", s.cfg.Name, st.Delivered, err)
		}
		if got != want {
			return fmt.Errorf("replica: store %s: delivered root %x at tree size %d, the tree's is %x: not the replicated log", s.cfg.Name, want, st.Delivered, got)
		}
	}
	st.NextReceipt = max(st.NextReceipt, next)
	s.st = *st
	return nil
}

// nextReceipt returns one past the counter of the last stored receipt of
// store id (0 if none).
func (r *Replicator) nextReceipt(id [8]byte) (uint64, error) {
	lo, hi := receiptBounds(id)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != len(lo)+8 {
		return 0, fmt.Errorf("%w: receipt key %x", ErrMalformed, k)
	}
	return binary.BigEndian.Uint64(k[len(lo):]) + 1, nil
}

// Delivered returns the largest tree size that at least Quorum stores hold
// completely, checkpoint object included (0 if none).
func (r *Replicator) Delivered() uint64 {
	ds := make([]uint64, len(r.stores))
	for i, s := range r.stores {
		ds[i] = s.delivered.Load()
	}
	slices.Sort(ds)
	return ds[len(ds)-r.cfg.Quorum]
}

// WaitDelivered waits until Delivered() ≥ size.
func (r *Replicator) WaitDelivered(ctx context.Context, size uint64) error {
	for {
		r.mu.Lock()
		ch := r.notify
		r.mu.Unlock()
		if r.Delivered() >= size {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("replica: waiting for tree size %d (delivered %d): %w", size, r.Delivered(), ctx.Err())
		}
	}
}

func (r *Replicator) delivered(s *store, n uint64) {
	s.delivered.Store(n)
	r.mu.Lock()
	close(r.notify)
	r.notify = make(chan struct{})
	r.mu.Unlock()
}

// Status returns each store's status, in configuration order.
func (r *Replicator) Status() []StoreStatus {
	p, _ := r.src.Published()
	out := make([]StoreStatus, len(r.stores))
	for i, s := range r.stores {
		d := s.delivered.Load()
		s.mu.Lock()
		out[i] = StoreStatus{Name: s.cfg.Name, Delivered: d, Down: s.down || s.stopped, Stopped: s.stopped, Since: s.since, LastErr: s.lastErr}
		s.mu.Unlock()
		if p.Size > d {
			out[i].Lag = p.Size - d
		}
	}
	return out
}

// Shutdown stops the replicator: each store that is up makes a last round
// to the newest published checkpoint, then its goroutine ends. If ctx
// expires first, the rounds in flight are cancelled (a repeated step is
// harmless) and Shutdown still waits for the goroutines.
func (r *Replicator) Shutdown(ctx context.Context) error {
	if !r.shut.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(r.closing)
	defer r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.done
		return fmt.Errorf("replica: shutdown cut short: %w", ctx.Err())
	}
}

// run is a store's goroutine.
func (r *Replicator) run(ctx context.Context, s *store) {
	r.checkRemote(ctx, s)
	var backoff time.Duration
	var prevChanged <-chan struct{}
	final := false
	poll := time.NewTimer(time.Hour)
	defer poll.Stop()
	for {
		p, changed := r.src.Published()
		if r.behind(s, p) {
			err := r.deliver(ctx, s, p)
			var ce *ConflictError
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				backoff = 0
				r.recovered(s)
				if !final {
					continue // published may have moved on meanwhile
				}
			case errors.As(err, &ce):
				r.alarm(s, err)
				s.mu.Lock()
				s.stopped, s.lastErr = true, err
				s.mu.Unlock()
				return
			default:
				r.failed(s, err)
				if final {
					return
				}
				backoff = min(max(2*backoff, r.cfg.MinBackoff), r.cfg.MaxBackoff)
				// Jitter over the upper half: several taps' retries
				// do not synchronize.
				wait := time.NewTimer(backoff/2 + mrand.N(backoff/2+1))
				select {
				case <-wait.C:
				case <-r.closing:
					wait.Stop()
					return
				case <-ctx.Done():
					wait.Stop()
					return
				}
				continue
			}
		}
		if final {
			return
		}
		// A source that stopped (its channel closed for good) is polled
		// instead of spun on.
		if changed == prevChanged {
			changed = nil
			poll.Reset(time.Second)
		}
		prevChanged = changed
		select {
		case <-changed:
		case <-poll.C:
		case <-r.closing:
			final = true
		case <-ctx.Done():
			return
		}
	}
}

// behind reports whether p is news to s: a larger tree, or another note
// (e.g. more cosignatures) for the tree it has.
func (r *Replicator) behind(s *store, p Published) bool {
	if p.Size == 0 || len(p.Note) == 0 {
		return false
	}
	if p.Size != s.st.Delivered {
		return p.Size > s.st.Delivered
	}
	h := sha256.Sum256(p.Note)
	return hex.EncodeToString(h[:]) != s.st.NoteSHA256
}

func (r *Replicator) failed(s *store, err error) {
	s.mu.Lock()
	first := !s.down
	if first {
		s.down, s.since = true, r.cfg.Now()
	}
	s.lastErr = err
	s.mu.Unlock()
	if !first {
		r.logger.Debug("replica: store still failing", "store", s.cfg.Name, "err", err)
		return
	}
	r.logger.Warn("replica: store failing", "store", s.cfg.Name, "delivered", s.delivered.Load(), "err", err)
	if r.cfg.OnFailure != nil {
		r.cfg.OnFailure(s.cfg.Name, err)
	}
}

func (r *Replicator) recovered(s *store) {
	s.mu.Lock()
	was, since := s.down, s.since
	s.down, s.since, s.lastErr = false, time.Time{}, nil
	s.mu.Unlock()
	if !was {
		return
	}
	d := r.cfg.Now().Sub(since)
	r.logger.Info("replica: store recovered", "store", s.cfg.Name, "down", d, "delivered", s.delivered.Load())
	if r.cfg.OnRecover != nil {
		r.cfg.OnRecover(s.cfg.Name, d)
	}
}

func (r *Replicator) alarm(s *store, err error) {
	r.logger.Error("replica: ALARM: store holds conflicting evidence", "store", s.cfg.Name, "err", err)
	if r.cfg.OnAlarm != nil {
		r.cfg.OnAlarm(s.cfg.Name, err)
	}
}

func (r *Replicator) store(name string) (*store, error) {
	for _, s := range r.stores {
		if s.cfg.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownStore, name)
}

// Receipts calls fn with each stored receipt of store, oldest first.
func (r *Replicator) Receipts(store string, fn func(Receipt) error) error {
	s, err := r.store(store)
	if err != nil {
		return err
	}
	lo, hi := receiptBounds(s.id)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("replica: receipts: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("replica: receipts: %w", err)
		}
		rc, err := DecodeReceipt(v)
		if err != nil {
			return fmt.Errorf("replica: receipt %x: %w", it.Key(), err)
		}
		if err := fn(*rc); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("replica: receipts: %w", err)
	}
	return nil
}

// persist stores st and the receipts in one synced batch, then makes st
// the store's state.
func (r *Replicator) persist(s *store, st state, receipts []*Receipt) error {
	b := r.db.NewBatch()
	defer b.Close()
	for _, rc := range receipts {
		v, err := encodeReceipt(rc)
		if err != nil {
			return err
		}
		if err := b.Set(receiptKey(s.id, st.NextReceipt), v, nil); err != nil {
			return fmt.Errorf("replica: store %s: %w", s.cfg.Name, err)
		}
		st.NextReceipt++
	}
	v, err := encodeState(&st)
	if err != nil {
		return err
	}
	if err := b.Set(stateKey(s.id), v, nil); err != nil {
		return fmt.Errorf("replica: store %s: %w", s.cfg.Name, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("replica: store %s: persist state: %w", s.cfg.Name, err)
	}
	s.st = st
	return nil
}
