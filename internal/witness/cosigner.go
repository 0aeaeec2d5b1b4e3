package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/seal"
)

// Config configures a Cosigner. Start from DefaultConfig.
type Config struct {
	// LogVerifier is the verifier of fixtap's checkpoint key
	// (seal.Key.Verifier): cosigned notes are checked with it.
	LogVerifier note.Verifier
	// Timeout bounds each add-checkpoint request (the 409 resend is a
	// request of its own).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (with
	// jitter) before retrying a witness that failed or refused.
	MinBackoff, MaxBackoff time.Duration
	// Now is fixtap's clock (internal/clock): it times backoffs and
	// requests; witness never reads wall time.
	Now func() time.Time
	// Logger receives the Cosigner's messages; nil means slog.Default().
	Logger *slog.Logger
	// HTTP is the client for every witness (keep-alive connections, as
	// C2SP tlog-witness recommends); nil means a fresh http.Client.
	HTTP *http.Client

	// The callbacks run on the Cosigner's goroutine and must not block.

	// OnFailure is called once per failure episode of a witness (not per
	// retry) with the first error: timeouts, 5xx, bad responses.
	OnFailure func(witness string, err error)
	// OnRecover is called when a witness that failed or raised an alarm
	// cosigns again.
	OnRecover func(witness string)
	// OnAlarm is called once per alarm episode of a witness: it refused
	// our checkpoint (*RefusedError: 422 fork or bad proof, 403 key not
	// trusted, 404 origin unknown) or has cosigned a tree beyond ours
	// (*AheadError). Either the witness has seen another history of this
	// log, or it is misconfigured; an operator must look.
	OnAlarm func(witness string, err error)
	// OnCosigned is called after a cosigned checkpoint is stored.
	OnCosigned func(c *Cosigned)
	// OnRequest, if set, is called after every add-checkpoint request with
	// its round-trip time and error (metrics). Unlike the others it runs
	// on the request goroutines, concurrently: it must be safe for that.
	OnRequest func(witness string, rtt time.Duration, err error)
}

// DefaultConfig returns the defaults: 10s per request, backoff from 1s to
// 1 minute.
func DefaultConfig(logVerifier note.Verifier, now func() time.Time) Config {
	return Config{LogVerifier: logVerifier, Timeout: 10 * time.Second, MinBackoff: time.Second, MaxBackoff: time.Minute, Now: now}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.LogVerifier == nil {
		errs = append(errs, errors.New("LogVerifier is nil"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("Timeout %v: want > 0", c.Timeout))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff [%v, %v]: want 0 < min ≤ max", c.MinBackoff, c.MaxBackoff))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("Now is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("witness: config: %w", err)
	}
	return nil
}

// LogValue keeps the configuration readable in logs.
func (c Config) LogValue() slog.Value {
	var lv string
	if c.LogVerifier != nil {
		lv = fmt.Sprintf("%s+%08x", c.LogVerifier.Name(), c.LogVerifier.KeyHash())
	}
	return slog.GroupValue(
		slog.String("log_key", lv),
		slog.Duration("timeout", c.Timeout),
		slog.Duration("min_backoff", c.MinBackoff),
		slog.Duration("max_backoff", c.MaxBackoff),
	)
}

// AheadError reports a witness whose latest cosigned checkpoint of our
// origin is larger than our tree (learned from a 409): it has cosigned a
// history we do not have — another instance signing with our key, or our
// state rolled back. An alarm.
type AheadError struct {
	Witness     string
	WitnessSize uint64 // the size the witness says it cosigned
	TreeSize    uint64 // our newest checkpoint's size
}

func (e *AheadError) Error() string {
	return fmt.Sprintf("witness: %s has cosigned a tree of %d leaves, ours has %d: it has seen another history of this log",
		e.Witness, e.WitnessSize, e.TreeSize)
}

// maxConflicts bounds the 409 resends of one exchange: a witness whose
// size keeps moving is being fed by someone else.
const maxConflicts = 3

// A Cosigner gets the sealer's checkpoints cosigned by the witnesses of a
// policy (C2SP tlog-witness), and stores and publishes each checkpoint
// whose cosignatures meet the policy's quorum.
//
// It follows the sealer (Changed, then Latest) and always asks for the
// newest checkpoint: one superseded while a request is in flight is not
// sent. Each witness is asked on its own goroutine with a per-request
// timeout; at most one request per witness is in flight. For each witness
// it remembers the size the witness last cosigned (from its 200s and 409
// bodies) and sends a consistency proof from there (seal's
// ConsistencyProof, tlog.ProveTree). As soon as the cosignatures gathered
// for a checkpoint meet the quorum, the cosigned note — the checkpoint
// note with the cosignature lines appended in policy order — is checked
// with cosign.Policy.Check, stored under 'w' + size (Sync) and published
// (Latest, Changed, OnCosigned). A witness that answers after that is
// recorded in the next stored checkpoint that it cosigns; stored records
// are never rewritten. A witness lacking a cosignature of the newest
// checkpoint is retried with backoff, so a recovered one is noticed even
// on a quiet log.
//
// Lifecycle: New starts one goroutine, which runs until Shutdown or until
// ctx is cancelled, and stops by itself only if storing fails (Err). It
// owns the request goroutines (at most one per witness): it cancels them
// on the way out and waits for them, so nothing runs after Shutdown
// returns. Shut the Cosigner down before the Sealer, and both before the
// chain.Log.
type Cosigner struct {
	s      *seal.Sealer
	db     *pebble.DB
	policy *cosign.Policy
	cfg    Config
	logger *slog.Logger
	reader *Reader
	ws     []*wstate

	mu     sync.Mutex
	latest *Cosigned
	notify chan struct{}
	err    error

	cancel context.CancelFunc
	done   chan struct{}
}

// wstate is what the Cosigner's goroutine knows of one witness.
type wstate struct {
	w      cosign.Witness
	client *Client
	index  int

	known    uint64 // the size the witness last cosigned, as far as we know
	cosigned uint64 // size of the newest checkpoint it cosigned for us (0: none)
	inflight uint64 // size asked for while busy
	busy     bool

	next    time.Time // no attempt before
	backoff time.Duration
	failing bool // in a failure episode (OnFailure called)
	alarmed bool // in an alarm episode (OnAlarm called)
}

// pending gathers the cosignatures of one checkpoint not yet published.
type pending struct {
	cp    *seal.Checkpoint
	lines map[int][]byte // witness index → its verified cosignature line
}

// result is the outcome of one exchange with one witness.
type result struct {
	w     int
	cp    *seal.Checkpoint
	known uint64 // what the witness told us of its size (valid if learned)
	learn bool
	line  []byte // the verified cosignature line (success)
	err   error
	alarm bool
}

// New starts a Cosigner for the checkpoints of s under policy. The policy
// must have a quorum (not "none") and a URL for every witness; if it names
// logs, cfg.LogVerifier must be one of them. l is the chain.Log s seals:
// the records are stored in its DB.
func New(ctx context.Context, l *chain.Log, s *seal.Sealer, policy *cosign.Policy, cfg Config) (*Cosigner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if l == nil || s == nil || policy == nil {
		return nil, errors.New("witness: nil log, sealer or policy")
	}
	db := l.DB()
	if policy.Quorum() == "none" {
		return nil, fmt.Errorf("witness: policy %s has quorum none: nothing to wait for", policy.File())
	}
	if logs := policy.Logs(); len(logs) > 0 && !slices.ContainsFunc(logs, func(l cosign.Log) bool {
		return l.Verifier.Name() == cfg.LogVerifier.Name() && l.Verifier.KeyHash() == cfg.LogVerifier.KeyHash()
	}) {
		return nil, fmt.Errorf("witness: policy %s names logs, but not our key %s+%08x", policy.File(), cfg.LogVerifier.Name(), cfg.LogVerifier.KeyHash())
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	c := &Cosigner{s: s, db: db, policy: policy, cfg: cfg, logger: cfg.Logger, notify: make(chan struct{}), done: make(chan struct{})}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.reader, _ = OpenReader(db, policy, cfg.LogVerifier)
	for i, w := range policy.Witnesses() {
		if w.URL == "" {
			return nil, fmt.Errorf("witness: policy %s: witness %s has no URL", policy.File(), w.Name)
		}
		c.ws = append(c.ws, &wstate{w: w, index: i, client: &Client{URL: w.URL, HTTP: cfg.HTTP}})
	}
	latest, err := c.reader.Latest()
	switch {
	case errors.Is(err, ErrNoCosigned):
	case err != nil:
		return nil, err
	default:
		c.latest = latest
		// Those who cosigned it had at least that size: start from there
		// (a 409 corrects us if they moved on).
		signed := map[string]bool{}
		for _, cs := range latest.Cosigs {
			signed[cs.Witness] = true
		}
		for _, w := range c.ws {
			if signed[w.w.Name] {
				w.known, w.cosigned = latest.Size, latest.Size
			}
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go c.run(runCtx)
	return c, nil
}

func (c *Cosigner) run(ctx context.Context) {
	defer close(c.done)
	err := c.loop(ctx)
	if err != nil {
		c.logger.Error("witness: stopped", "err", err)
	}
	c.mu.Lock()
	c.err = err
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

func (c *Cosigner) loop(ctx context.Context) error {
	results := make(chan result, len(c.ws))
	busy := 0
	defer func() {
		for ; busy > 0; busy-- {
			<-results
		}
	}()
	published := uint64(0)
	if c.latest != nil {
		published = c.latest.Size
	}
	pend := map[uint64]*pending{}
	var target *seal.Checkpoint
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		changed := c.s.Changed()
		if cp, err := c.s.Latest(); err == nil && (target == nil || cp.Size > target.Size) {
			target = cp
		}
		// Ask every idle witness that has not cosigned the target and is
		// not backing off; note the earliest backoff to wake for.
		now := c.cfg.Now()
		var wake time.Duration = -1
		for _, w := range c.ws {
			if target == nil || w.busy || w.cosigned >= target.Size {
				continue
			}
			if d := w.next.Sub(now); d > 0 {
				if wake < 0 || d < wake {
					wake = d
				}
				continue
			}
			w.busy, w.inflight = true, target.Size
			busy++
			go func(w *wstate, known uint64, cp *seal.Checkpoint) {
				results <- c.ask(ctx, w, known, cp)
			}(w, w.known, target)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if wake >= 0 {
			timer.Reset(wake)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer.C:
		case r := <-results:
			busy--
			if err := c.handle(r, pend, &published, target); err != nil {
				return err
			}
		}
	}
}

// handle applies one exchange's result: the witness's state, and, on a
// cosignature, the pending checkpoint it belongs to, published when the
// quorum is met.
func (c *Cosigner) handle(r result, pend map[uint64]*pending, published *uint64, target *seal.Checkpoint) error {
	w := c.ws[r.w]
	w.busy = false
	if r.learn {
		if r.known < w.cosigned {
			// It cosigned w.cosigned for us and now holds less: it lost
			// state (a restored backup?). It will accept our proofs from
			// where it is; say so, as it weakens what it attests.
			c.logger.Warn("witness: witness state went back", "witness", w.w.Name, "cosigned", w.cosigned, "now", r.known)
		}
		w.known = r.known
	}
	if r.err != nil {
		w.backoff = min(max(2*w.backoff, c.cfg.MinBackoff), c.cfg.MaxBackoff)
		// Full jitter over the upper half, as the anchorer does.
		w.next = c.cfg.Now().Add(w.backoff/2 + mrand.N(w.backoff/2+1))
		if r.alarm {
			if !w.alarmed {
				w.alarmed = true
				c.logger.Error("witness: ALARM", "witness", w.w.Name, "url", w.w.URL, "size", r.cp.Size, "err", r.err)
				if c.cfg.OnAlarm != nil {
					c.cfg.OnAlarm(w.w.Name, r.err)
				}
			}
		} else if !w.failing {
			w.failing = true
			c.logger.Warn("witness: cosigning failed", "witness", w.w.Name, "url", w.w.URL, "size", r.cp.Size, "err", r.err)
			if c.cfg.OnFailure != nil {
				c.cfg.OnFailure(w.w.Name, r.err)
			}
		}
		c.prune(pend, target)
		return nil
	}
	if w.failing || w.alarmed {
		c.logger.Info("witness: cosigning again", "witness", w.w.Name, "size", r.cp.Size)
		if c.cfg.OnRecover != nil {
			c.cfg.OnRecover(w.w.Name)
		}
	}
	w.failing, w.alarmed, w.backoff, w.next = false, false, 0, time.Time{}
	w.cosigned = max(w.cosigned, r.cp.Size)
	if r.cp.Size > *published {
		p := pend[r.cp.Size]
		if p == nil {
			p = &pending{cp: r.cp, lines: map[int][]byte{}}
			pend[r.cp.Size] = p
		}
		p.lines[r.w] = r.line
		signed := map[string]bool{}
		for i := range p.lines {
			signed[c.ws[i].w.Name] = true
		}
		if c.policy.Satisfied(signed) {
			if err := c.publish(p); err != nil {
				return err
			}
			*published = p.cp.Size
		}
	}
	c.prune(pend, target)
	for size := range pend {
		if size <= *published {
			delete(pend, size)
		}
	}
	return nil
}

// prune drops pending checkpoints older than the target that no request
// in flight can still complete.
func (c *Cosigner) prune(pend map[uint64]*pending, target *seal.Checkpoint) {
	for size := range pend {
		if target != nil && size >= target.Size {
			continue
		}
		if !slices.ContainsFunc(c.ws, func(w *wstate) bool { return w.busy && w.inflight == size }) {
			delete(pend, size)
		}
	}
}

// publish builds, checks, stores and publishes the cosigned note of p.
func (c *Cosigner) publish(p *pending) error {
	msg := bytes.Clone(p.cp.Note)
	for _, w := range c.ws { // policy order
		if line, ok := p.lines[w.index]; ok {
			msg = append(msg, line...)
		}
	}
	cs, err := openCosigned(msg, c.policy, c.cfg.LogVerifier)
	if err == nil && cs.Size != p.cp.Size {
		err = fmt.Errorf("size %d, want %d", cs.Size, p.cp.Size)
	}
	if err == nil {
		_, err = c.policy.Check(msg, c.cfg.LogVerifier)
	}
	if err != nil {
		return fmt.Errorf("witness: cosigned checkpoint %d does not check: %w", p.cp.Size, err)
	}
	// Sync: a cosigned checkpoint leaves the process (replicas, anchors)
	// only once it is on disk.
	if err := c.db.Set(cosignedKey(cs.Size), append([]byte{cosignedRecordVersion}, msg...), pebble.Sync); err != nil {
		return fmt.Errorf("witness: store cosigned checkpoint %d: %w", cs.Size, err)
	}
	c.mu.Lock()
	c.latest = cs
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
	if c.cfg.OnCosigned != nil {
		c.cfg.OnCosigned(cs)
	}
	return nil
}

// ask runs one exchange with w for cp, starting from the size known: the
// request, and on 409 the resend from the witness's size (at most
// maxConflicts times).
func (c *Cosigner) ask(ctx context.Context, w *wstate, known uint64, cp *seal.Checkpoint) result {
	r := result{w: w.index, cp: cp}
	if known > cp.Size {
		// It was ahead of us last time: ask from 0 again, so the 409
		// tells us where it is now (one request per backoff period).
		known = 0
	}
	for range maxConflicts + 1 {
		if known > cp.Size {
			r.err, r.alarm = &AheadError{Witness: w.w.Name, WitnessSize: known, TreeSize: cp.Size}, true
			return r
		}
		proof, err := c.s.ConsistencyProof(known, cp.Size)
		if err != nil {
			r.err = fmt.Errorf("witness: %s: proof %d→%d: %w", w.w.Name, known, cp.Size, err)
			return r
		}
		rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		t0 := c.cfg.Now()
		lines, err := w.client.AddCheckpoint(rctx, known, proof, cp.Note)
		rtt := c.cfg.Now().Sub(t0)
		cancel()
		if c.cfg.OnRequest != nil && ctx.Err() == nil {
			c.cfg.OnRequest(w.w.Name, rtt, err)
		}
		var ce *ConflictError
		var re *RefusedError
		switch {
		case errors.As(err, &ce):
			r.known, r.learn = ce.Size, true
			if ce.Size == known {
				r.err = fmt.Errorf("witness: %s: 409 names the old size we sent (%d): %w", w.w.Name, known, err)
				return r
			}
			known = ce.Size
			continue
		case errors.As(err, &re):
			r.err, r.alarm = fmt.Errorf("witness: %s: checkpoint %d from old size %d: %w", w.w.Name, cp.Size, known, err), true
			return r
		case err != nil:
			r.err = fmt.Errorf("witness: %s: %w", w.w.Name, err)
			return r
		}
		// 200: the witness now holds cp.Size.
		r.known, r.learn = cp.Size, true
		line, _, err := Accept(cp.Note, lines, w.w.Verifier)
		if err != nil {
			r.err = fmt.Errorf("witness: %s: %w", w.w.Name, err)
			return r
		}
		r.line = line
		return r
	}
	r.err = fmt.Errorf("witness: %s: still 409 after %d resends (last size %d): is another client feeding it our log?", w.w.Name, maxConflicts, known)
	return r
}

// Shutdown stops the Cosigner's goroutine (requests in flight are
// cancelled) and waits for it, or for ctx. Nothing is buffered, so there
// is nothing to flush: every cosigned checkpoint was stored before it was
// published. It returns why the Cosigner stopped if it failed.
func (c *Cosigner) Shutdown(ctx context.Context) error {
	c.cancel()
	select {
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("witness: shutdown: %w", ctx.Err())
	}
}

// Err returns the error that stopped the Cosigner, or nil.
func (c *Cosigner) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Changed returns a channel closed when a new cosigned checkpoint is
// published (or the Cosigner stops). Take it before calling Latest.
func (c *Cosigner) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notify
}

// Latest returns the newest cosigned checkpoint; ErrNoCosigned before the
// first.
func (c *Cosigner) Latest() (*Cosigned, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest == nil {
		return nil, ErrNoCosigned
	}
	return c.latest, nil
}

// Published returns the newest cosigned checkpoint (nil before the first)
// and the channel closed when it changes, taken together — the shape a
// replication source needs.
func (c *Cosigner) Published() (*Cosigned, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest, c.notify
}

// LatestCheckpoint returns the newest cosigned checkpoint as a
// seal.Checkpoint whose Note is the cosigned note, or an error wrapping
// seal.ErrNoCheckpoint before the first: seal.AnchorConfig.Latest, so the
// RFC 3161 token covers the cosignatures.
func (c *Cosigner) LatestCheckpoint() (*seal.Checkpoint, error) {
	cs, err := c.Latest()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", seal.ErrNoCheckpoint, err)
	}
	return cs.Checkpoint(), nil
}

// Get returns the stored cosigned checkpoint of tree size size.
func (c *Cosigner) Get(size uint64) (*Cosigned, error) { return c.reader.Get(size) }

// All calls fn with every stored cosigned checkpoint of size in [from, to).
func (c *Cosigner) All(from, to uint64, fn func(*Cosigned) error) error {
	return c.reader.All(from, to, fn)
}
