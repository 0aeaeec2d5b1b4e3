package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/export"
	"github.com/fixtap/fixtap/internal/seal"
)

// C2SP tlog-tiles: tiles of height 8 (256 hashes), entry bundles of 256
// entries.
const (
	tileHeight  = 8
	bundleWidth = layout.EntryBundleWidth
)

// eventsPath is the path of fixtap's events bundle N (doc.go): the same
// index range as tile/entries/<N>[.p/<W>], at another URL as tlog-tiles
// allows ("Logs MAY serve entries in different formats … at a different
// URL").
func eventsPath(n uint64, p uint8) string {
	return "fixtap/events/" + layout.NWithSuffix(0, n, p)
}

// EventsPath is eventsPath for readers of a replica (the monitor, tests).
func EventsPath(n uint64, p uint8) string { return eventsPath(n, p) }

// deliver runs a round for s: from what s holds to p, in steps of at most
// StepEntries entries (tiles and bundles, then the progress and receipts
// stored), then the checkpoint object, written last (doc.go).
func (r *Replicator) deliver(ctx context.Context, s *store, p Published) error {
	n := p.Size
	if n > r.tree.Size() {
		return fmt.Errorf("replica: published tree size %d is beyond the sealed tree (%d)", n, r.tree.Size())
	}
	root, err := tlog.TreeHash(int64(n), r.hashes)
	if err != nil {
		return fmt.Errorf("replica: tree hash %d: %w", n, err)
	}
	if root != p.Root {
		return fmt.Errorf("replica: published checkpoint of size %d has root %x, the tree's is %x: not published", n, p.Root, root)
	}
	// The events bundles carry signatures, written beside the chain.
	wctx, cancel := context.WithTimeout(ctx, r.cfg.RoundTimeout)
	err = r.log.WaitSigned(wctx, n)
	cancel()
	if err != nil {
		return fmt.Errorf("replica: waiting for the signatures of tree size %d (signed %d): %w", n, r.log.Signed(), err)
	}
	from := s.st.Uploaded
	if from > n { // a source that went back: repeat from what is delivered
		from = s.st.Delivered
	}
	step := uint64(r.cfg.StepEntries)
	for from < n {
		m := min(from/bundleWidth*bundleWidth+step, n)
		receipts, err := r.step(ctx, s, from, m, n)
		st := s.st
		if err == nil {
			st.Uploaded = m
		}
		// Receipts of what went through are kept even when the step failed.
		if perr := r.persist(s, st, receipts); perr != nil && err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		from = m
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.RoundTimeout)
	cp := newObject(layout.CheckpointPath, p.Note, typeCheckpoint)
	cp.mutable = true
	rc, err := s.bucket.put(cctx, cp, n)
	cancel()
	if err != nil {
		return err
	}
	st := s.st
	h := sha256.Sum256(p.Note)
	st.Uploaded = max(st.Uploaded, n)
	st.Delivered, st.Root, st.NoteSHA256 = n, hex.EncodeToString(root[:]), hex.EncodeToString(h[:])
	if err := r.persist(s, st, []*Receipt{rc}); err != nil {
		return err
	}
	r.delivered(s, n)
	return nil
}

// step uploads what the tree of size m has and the tree of size from has
// not: the hash tiles tlog.NewTiles(8, from, m) (C2SP tlog-tiles "Merkle
// Tree"; partial ones at their own .p/<W> paths), and the entry and events
// bundles overlapping [from, m) at their widths at size m (a bundle that was
// partial at from is written again, wider or full, at its new path; the
// partial one stays). Up to Parallel uploads are in flight.
func (r *Replicator) step(ctx context.Context, s *store, from, m, n uint64) ([]*Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RoundTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan *object, r.cfg.Parallel)
	var mu sync.Mutex
	var receipts []*Receipt
	for range r.cfg.Parallel {
		g.Go(func() error {
			for o := range jobs {
				rc, err := s.bucket.put(gctx, o, n)
				if err != nil {
					return err
				}
				mu.Lock()
				receipts = append(receipts, rc)
				mu.Unlock()
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		send := func(o *object) error {
			select {
			case jobs <- o:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		cov := &coverer{tree: r.tree, n: n}
		for k := from / bundleWidth; k*bundleWidth < m; k++ {
			entries, events, err := r.bundles(k, m, cov)
			if err != nil {
				return err
			}
			if err := send(entries); err != nil {
				return err
			}
			if err := send(events); err != nil {
				return err
			}
		}
		for _, t := range tlog.NewTiles(tileHeight, int64(from), int64(m)) {
			o, err := r.tile(t)
			if err != nil {
				return err
			}
			if err := send(o); err != nil {
				return err
			}
		}
		return nil
	})
	err := g.Wait()
	return receipts, err
}

// width returns the partial width of bundle or tile k at level 0 of a tree
// of size m: 0 for a full one.
func width(k, m uint64) uint8 {
	if w := m - k*bundleWidth; w < bundleWidth {
		return uint8(w)
	}
	return 0
}

// bundles returns entry bundle k and events bundle k of the tree of size m.
//
// Entry bundle (C2SP tlog-tiles "Log entries"): each entry a big-endian
// uint16 length and the entry; fixtap's entry is the raw 32-byte EventHash
// of the event at that seq, so RFC 6962 SHA-256(0x00 ‖ entry) is fixtap's
// leaf (docs/vcp-profile.md §3).
//
// Events bundle: the same events, one export.AppendEventLine line each
// (MerkleRoot the root of the first stored checkpoint covering the event).
func (r *Replicator) bundles(k, m uint64, cov *coverer) (entries, events *object, err error) {
	p := width(k, m)
	ep, vp := layout.EntriesPath(k, p), eventsPath(k, p)
	entries, events = r.cache.get(ep), r.cache.get(vp)
	if entries != nil && events != nil {
		return entries, events, nil
	}
	// Stores moving together ask for the same bundle at the same time: one
	// builds it, the others wait for it.
	built, err := r.cache.build(vp, func() ([]*object, error) {
		lo, hi := k*bundleWidth, min(k*bundleWidth+bundleWidth, m)
		eb := make([]byte, 0, (hi-lo)*34)
		vb := make([]byte, 0, (hi-lo)*uint64(r.lineSize.Load()))
		err := r.log.Range(lo, hi, func(rec *chain.Record) error {
			if !rec.Signed {
				return fmt.Errorf("replica: event seq %d has no signature yet", rec.Seq)
			}
			if err := rec.Check(); err != nil {
				return fmt.Errorf("replica: %w", err)
			}
			root, err := cov.root(rec.Seq)
			if err != nil {
				return err
			}
			eb = binary.BigEndian.AppendUint16(eb, uint16(len(rec.Hash)))
			eb = append(eb, rec.Hash[:]...)
			vb, err = export.AppendEventLine(vb, rec, root)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("replica: bundle %d: %w", k, err)
		}
		// The next bundle's buffer is sized for lines a little longer than
		// this one's, so it is seldom grown (copied) while built.
		r.lineSize.Store(int64(len(vb))/int64(hi-lo) + 64)
		entries, events := newObject(ep, eb, typeTile), newObject(vp, vb, typeEvents)
		r.cache.put(entries)
		r.cache.put(events)
		return []*object{entries, events}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return built[0], built[1], nil
}

// tile returns hash tile t, read from the stored tree (tlog.ReadTileData).
func (r *Replicator) tile(t tlog.Tile) (*object, error) {
	p := uint8(0)
	if t.W < 1<<tileHeight {
		p = uint8(t.W)
	}
	path := layout.TilePath(uint64(t.L), uint64(t.N), p)
	if o := r.cache.get(path); o != nil {
		return o, nil
	}
	b, err := tlog.ReadTileData(t, r.hashes)
	if err != nil {
		return nil, fmt.Errorf("replica: tile %s: %w", path, err)
	}
	o := newObject(path, b, typeTile)
	r.cache.put(o)
	return o, nil
}

// coverer finds, for ascending seqs, the root of the first stored
// checkpoint covering each (the smallest size > seq), reading the sealer's
// checkpoints in growing windows up to n.
type coverer struct {
	tree *seal.Sealer
	n    uint64
	cps  []*seal.Checkpoint
	i    int
	next uint64 // checkpoints of size < next are read
	win  uint64
}

func (c *coverer) root(seq uint64) (tlog.Hash, error) {
	for {
		for c.i < len(c.cps) && c.cps[c.i].Size <= seq {
			c.i++
		}
		if c.i < len(c.cps) {
			return c.cps[c.i].Root, nil
		}
		if c.next == 0 {
			c.next, c.win = seq+1, 1<<14
		}
		c.next = max(c.next, seq+1)
		if c.next > c.n {
			return tlog.Hash{}, fmt.Errorf("replica: no stored checkpoint of size %d to %d covers seq %d", seq+1, c.n, seq)
		}
		hi := min(c.next+c.win, c.n+1)
		cps, err := c.tree.Checkpoints(c.next, hi)
		if err != nil {
			return tlog.Hash{}, fmt.Errorf("replica: %w", err)
		}
		c.cps, c.i, c.next, c.win = cps, 0, hi, c.win*2
	}
}

// objCache keeps the objects built lately, by path, so stores that move
// together build each object once. Every object's bytes are a function of
// its path alone (given the log and its checkpoints), so a hit is always
// right.
type objCache struct {
	mu    sync.Mutex
	max   int
	size  int
	m     map[string]*object
	order []string

	builds singleflight.Group // objCache.build
}

func newObjCache(max int) *objCache { return &objCache{max: max, m: map[string]*object{}} }

// build calls fn, unless a build under key is in progress: then it waits
// for that one and returns its result.
func (c *objCache) build(key string, fn func() ([]*object, error)) ([]*object, error) {
	v, err, _ := c.builds.Do(key, func() (any, error) { return fn() })
	if err != nil {
		return nil, err
	}
	return v.([]*object), nil
}

func (c *objCache) get(path string) *object {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[path]
}

func (c *objCache) put(o *object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[o.path]; ok {
		return
	}
	c.m[o.path] = o
	c.order = append(c.order, o.path)
	c.size += len(o.body)
	for c.size > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= len(c.m[old].body)
		delete(c.m, old)
	}
}

// checkRemote compares s's checkpoint object with what we delivered there
// (when the store can be read now) and reports a mismatch with OnAlarm
// (*CheckpointError); it changes nothing.
func (r *Replicator) checkRemote(ctx context.Context, s *store) {
	key := s.cfg.key(layout.CheckpointPath)
	d := s.st.Delivered
	body, _, _, found, err := s.bucket.get(ctx, key, 64<<10)
	if err != nil {
		r.logger.Info("replica: cannot read the store's checkpoint at start; not checked", "store", s.cfg.Name, "err", err)
		return
	}
	fail := func(size uint64, reason string, err error) {
		r.alarm(s, &CheckpointError{Store: s.cfg.Name, Key: key, Delivered: d, Size: size, Reason: reason, Err: err})
	}
	if !found {
		if d > 0 {
			fail(0, "missing", nil)
		}
		return
	}
	i := bytes.Index(body, []byte("\n\n"))
	if i < 0 {
		fail(0, "not a signed note", nil)
		return
	}
	_, size, root, err := seal.ParseCheckpointText(body[:i+1])
	if err != nil {
		fail(0, "unparsable", err)
		return
	}
	switch {
	case size < d:
		fail(size, "older than what we delivered (rolled back?)", nil)
	case size > r.tree.Size():
		fail(size, fmt.Sprintf("beyond our sealed tree (%d): another log's?", r.tree.Size()), nil)
	default:
		got, err := tlog.TreeHash(int64(size), r.hashes)
		if err != nil {
			r.logger.Warn("replica: tree hash", "size", size, "err", err)
			return
		}
		if got != root {
			fail(size, fmt.Sprintf("root %x, our tree's at that size is %x", root, got), nil)
		}
	}
}

// Audit reads back every immutable object store has a receipt for (its
// newest receipt per key) and compares its SHA-256 with the receipt's,
// calling found for each object that differs or is missing. It returns how
// many objects it checked. It changes nothing; a store's read errors stop
// it.
func (r *Replicator) Audit(ctx context.Context, store string, found func(*AuditError)) (int, error) {
	s, err := r.store(store)
	if err != nil {
		return 0, err
	}
	last := map[string]*Receipt{}
	var keys []string
	ck := s.cfg.key(layout.CheckpointPath)
	err = r.Receipts(store, func(rc Receipt) error {
		if rc.Key == ck || rc.Bucket != s.cfg.Bucket || rc.Endpoint != s.cfg.Endpoint {
			return nil
		}
		if _, ok := last[rc.Key]; !ok {
			keys = append(keys, rc.Key)
		}
		last[rc.Key] = &rc
		return nil
	})
	if err != nil {
		return 0, err
	}
	checked := 0
	for _, k := range keys {
		rc := last[k]
		body, _, _, ok, err := s.bucket.get(ctx, k, rc.Size+1)
		if err != nil {
			return checked, err
		}
		checked++
		if !ok {
			found(&AuditError{Store: store, Key: k, Receipt: rc, Missing: true})
			continue
		}
		if h := sha256.Sum256(body); hex.EncodeToString(h[:]) != rc.SHA256 {
			found(&AuditError{Store: store, Key: k, Receipt: rc, GotSHA256: hex.EncodeToString(h[:])})
		}
	}
	return checked, nil
}
