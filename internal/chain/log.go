package chain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Log is the append-only event log.
//
// Goroutines and ownership (all started by Open, all stopped by Close):
//   - the committer: the only writer of event records. It links each queued
//     entry to its predecessor (PrevHash, EventHash), writes a group of them
//     and the log size in one Pebble batch, and in SyncPerGroup mode fsyncs
//     that batch;
//   - the syncer (SyncInterval mode only): fsyncs the WAL on an interval;
//   - the signers and the signature writer (signer.go), when a Signer is set.
//
// Shutdown order (Close): refuse new appends; wait for appends in flight;
// the committer drains the queue and exits; a final WAL fsync; the signers
// finish and write their last records; Pebble closes.
//
// A log opened with Config.ReadOnly has none of these goroutines; its
// Close closes Pebble.
type Log struct {
	stalls *atomic.Int64 // Pebble write stalls since Open
	cfg    Config
	db     *pebble.DB
	logger *pebbleLogger

	queue chan *pending

	// Committer-owned chain state.
	next uint64
	prev Hash

	committed atomic.Uint64 // size written to Pebble (maybe not yet fsync'd)
	durable   atomic.Uint64 // size fsync'd: every seq < durable is on disk
	latency   latencyHist   // group commit → durable, when cfg.Now is set

	notifyMu sync.Mutex
	notifyCh chan struct{} // closed and replaced when durable advances

	// Groups committed but not yet fsync'd (SyncInterval).
	unsyncedMu sync.Mutex
	unsynced   []group

	// Groups applied and awaiting their fsync (SyncPerGroup), in order.
	syncQ chan group

	freeBatches chan *pebble.Batch // see batch()

	stopOnce  sync.Once
	fatalOnce sync.Once
	stopped   chan struct{}
	stopErr   atomic.Pointer[StoppedError]

	syncWG   sync.WaitGroup // the sync waiter, which outlives the committer
	closing  atomic.Bool
	inflight atomic.Int64 // Appends between their closing check and their send
	quit     chan struct{}
	wg       sync.WaitGroup

	sign *signPipeline
}

// Entry is what an appender hands the log.
type Entry struct {
	Header  Header
	Payload Payload
	// Raw is the wire bytes the event was made from (may be nil); Append
	// copies it, so the caller may reuse the buffer once Append returns.
	Raw []byte
	// Also, if set, runs on the committer goroutine with the entry's seq;
	// every set it makes lands in the same Pebble batch as the event, so
	// they are durable together or lost together. The tap advances a
	// session's incoming MsgSeqNum this way. It must be quick and must not
	// call the log.
	Also func(seq uint64, set func(key, value []byte))
	// Done, if set, is called exactly once: when the event is durable, or
	// with an error when it never will be. It runs on a log goroutine and
	// must not block.
	Done func(seq uint64, h Hash, err error)
}

type pending struct {
	kvOnly bool   // a Write: no event, no seq
	rec    []byte // the record, hashes still zero
	digest hash.Hash
	also   func(uint64, func(k, v []byte))
	done   func(uint64, Hash, error)
	seq    uint64
	hash   Hash
}

var pendingPool = sync.Pool{New: func() any { return &pending{digest: sha256.New(), rec: make([]byte, 0, 2048)} }}

type group struct {
	first, end uint64 // the group is [first, end)
	ps         []*pending
	b          *pebble.Batch // SyncPerGroup: the batch whose fsync is awaited
	start      time.Time     // when the committer took it (cfg.Now; zero without)
}

// Open opens (creating if needed) the log in cfg.Dir, recovers it and
// starts its goroutines. It refuses to start on a corrupt, missing or
// broken record at the tail (see TailCheck), naming the seq, and on a
// directory that holds another format (*NotLogError). With cfg.ReadOnly it
// creates nothing, writes nothing and starts nothing (see Config.ReadOnly).
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	slogger := cfg.Logger
	if slogger == nil {
		slogger = slog.Default()
	}
	fatal := cfg.Fatal
	if fatal == nil {
		fatal = func(err error) { panic(err) }
	}
	lg := &pebbleLogger{log: slogger.With("component", "chain"), fatal: fatal}
	var stalls atomic.Int64
	opts := pebbleOptions(cfg, lg, &stalls)
	if cfg.ReadOnly {
		return openReadOnly(ctx, cfg, opts, lg, &stalls)
	}
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("chain: open %s: %w", cfg.Dir, err)
	}
	l := newLog(cfg, db, lg, &stalls)
	if err := l.recover(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.Signer != nil {
		l.sign = newSignPipeline(l, cfg.Signer, cfg.SignWorkers)
		if err := l.resign(ctx); err != nil {
			l.sign.stop()
			db.Close()
			return nil, err
		}
	}
	l.wg.Add(1)
	go l.commitLoop()
	switch cfg.Durability {
	case SyncInterval:
		l.wg.Add(1)
		go l.syncLoop()
	case SyncPerGroup:
		l.syncWG.Add(1)
		go l.syncWaitLoop()
	}
	return l, nil
}

// OpenReadOnly opens the log in dir read-only with the default tail check:
// Open with DefaultConfig(dir), ReadOnly set and logger (nil means
// slog.Default()). See Config.ReadOnly.
func OpenReadOnly(ctx context.Context, dir string, logger *slog.Logger) (*Log, error) {
	cfg := DefaultConfig(dir)
	cfg.ReadOnly = true
	cfg.Logger = logger
	return Open(ctx, cfg)
}

// openReadOnly is Open with cfg.ReadOnly: Pebble opened with
// Options.ReadOnly (the WAL is replayed into memory, never flushed), the
// same checks as recover without any write, and no goroutine. Durable =
// committed = the stored log size.
func openReadOnly(ctx context.Context, cfg Config, opts *pebble.Options, lg *pebbleLogger, stalls *atomic.Int64) (*Log, error) {
	opts.ReadOnly = true
	// Pebble's read-only open of a missing directory is an unwrapped
	// error; name it here.
	if _, err := opts.FS.Stat(cfg.Dir); err != nil {
		return nil, &NotLogError{Dir: cfg.Dir, Err: err}
	}
	db, err := pebble.Open(cfg.Dir, opts)
	if errors.Is(err, pebble.ErrDBDoesNotExist) {
		return nil, &NotLogError{Dir: cfg.Dir, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("chain: open %s read-only: %w", cfg.Dir, err)
	}
	l := newLog(cfg, db, lg, stalls)
	if err := l.recover(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

func newLog(cfg Config, db *pebble.DB, lg *pebbleLogger, stalls *atomic.Int64) *Log {
	return &Log{
		stalls:   stalls,
		cfg:      cfg,
		db:       db,
		logger:   lg,
		queue:    make(chan *pending, max(cfg.QueueLen, 1)),
		notifyCh: make(chan struct{}),
		stopped:  make(chan struct{}),
		quit:     make(chan struct{}),
		syncQ:    make(chan group, 8),

		freeBatches: make(chan *pebble.Batch, 16),
	}
}

// pebbleOptions are the Pebble options of the log.
func pebbleOptions(cfg Config, lg *pebbleLogger, stalls *atomic.Int64) *pebble.Options {
	opts := &pebble.Options{
		EventListener: &pebble.EventListener{
			// A write stall delays every session's events: worth a warning.
			WriteStallBegin: func(i pebble.WriteStallBeginInfo) {
				stalls.Add(1)
				lg.log.Warn("pebble write stall", "reason", i.Reason)
			},
			WriteStallEnd: func() { lg.log.Warn("pebble write stall ended") },
		},
		FS:                 cfg.FS,
		FormatMajorVersion: FormatMajorVersion,
		Logger:             lg,
		MemTableSize:       64 << 20,
		ErrorIfNotPristine: false,
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	opts.Experimental.ValueSeparationPolicy = valueSeparation
	return opts
}

// valueSeparation stores event records (≥ 256 bytes) in blob files written
// once at flush; compactions then move only keys and small handles. The log
// never overwrites or deletes a record, so blob files never hold garbage and
// are never rewritten (TargetGarbageRatio 1).
func valueSeparation() pebble.ValueSeparationPolicy {
	return pebble.ValueSeparationPolicy{
		Enabled:               true,
		MinimumSize:           256,
		MaxBlobReferenceDepth: 10,
		RewriteMinimumAge:     time.Hour,
		TargetGarbageRatio:    1,
	}
}

// recover checks the format, finds the log's size, re-hashes the tail and
// makes everything found durable. Read-only, it writes nothing: a missing
// format record is a *NotLogError, and what the WAL replay recovered stays
// in memory.
func (l *Log) recover(ctx context.Context) error {
	format, err := l.getMeta(keyFormat)
	if err != nil {
		return err
	}
	head, err := l.getMeta(keyHead)
	if err != nil {
		return err
	}
	last, hasLast, err := l.lastSeq(PrefixEvent)
	if err != nil {
		return err
	}
	switch {
	case format == nil && head == nil && !hasLast && l.cfg.ReadOnly:
		return &NotLogError{Dir: l.cfg.Dir}
	case format == nil && head == nil && !hasLast:
		// A new log.
		if err := l.db.Set(keyFormat, []byte(formatName), pebble.Sync); err != nil {
			return fmt.Errorf("chain: initialise %s: %w", l.cfg.Dir, err)
		}
		return nil
	case string(format) != formatName:
		return &NotLogError{Dir: l.cfg.Dir, Format: string(format)}
	case head == nil && !hasLast:
		// Created, never appended to: the size record comes with the
		// first group commit.
		head = binary.BigEndian.AppendUint64(nil, 0)
	case len(head) != 8:
		return &CorruptRecordError{Seq: 0, Err: fmt.Errorf("%w: log size record of %d bytes", errRecord, len(head))}
	}
	size := binary.BigEndian.Uint64(head)
	switch {
	case size == 0 && hasLast:
		return &CorruptRecordError{Seq: last, Err: fmt.Errorf("%w: record beyond log size 0", errRecord)}
	case size > 0 && !hasLast:
		return &MissingRecordError{Seq: 0, Head: size}
	case size > 0 && last+1 < size:
		return &MissingRecordError{Seq: last + 1, Head: size}
	case size > 0 && last+1 > size:
		return &CorruptRecordError{Seq: last, Err: fmt.Errorf("%w: record beyond log size %d", errRecord, size)}
	}
	// Re-hash and re-link the tail [from, size).
	from := uint64(0)
	if k := l.cfg.TailCheck; k >= 0 && uint64(k) < size {
		from = size - uint64(k)
	}
	var prev Hash
	if from > 0 {
		r, err := l.readRecord(from - 1)
		if err != nil {
			return err
		}
		prev = r.Hash
	}
	expect := from
	err = l.scan(from, size, func(r *Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.Seq != expect {
			return &MissingRecordError{Seq: expect, Head: size}
		}
		expect++
		if r.Prev != prev && r.Seq > 0 {
			return &BrokenLinkError{Seq: r.Seq, What: "PrevHash", Stored: r.Prev, Want: prev}
		}
		if err := r.Check(); err != nil {
			return err
		}
		prev = r.Hash
		return nil
	})
	if err != nil {
		return err
	}
	if expect != size {
		return &MissingRecordError{Seq: expect, Head: size}
	}
	// What Pebble replayed from the WAL after a crash may still be only in
	// the page cache; flush it to synced sstables before calling it durable.
	// A read-only log reports what is stored, durable or not: its readers
	// (exports) read only below a checkpoint, which the sealer writes with
	// Sync after every event it covers.
	if !l.cfg.ReadOnly {
		if err := l.db.Flush(); err != nil {
			return fmt.Errorf("chain: flush recovered log: %w", err)
		}
	}
	l.next, l.prev = size, prev
	l.committed.Store(size)
	l.durable.Store(size)
	return nil
}

func (l *Log) getMeta(key []byte) ([]byte, error) {
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chain: read %q: %w", key, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// lastSeq returns the highest seq stored under prefix.
func (l *Log) lastSeq(prefix byte) (uint64, bool, error) {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return 0, false, fmt.Errorf("chain: iterate: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, false, it.Error()
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, false, &CorruptRecordError{Seq: 0, Err: fmt.Errorf("%w: key %x", errRecord, k)}
	}
	return binary.BigEndian.Uint64(k[1:]), true, nil
}

// Append canonicalizes e, hashes its own bytes and queues it for the
// committer. It returns once the entry is queued — not when it is durable:
// use Entry.Done or AppendWait for that. An entry that cannot be
// canonicalized is refused with a *CanonicalError or *InvalidEventError and
// nothing is written. Append blocks while the queue is full, and fails with
// an error wrapping ErrStopped once the log has stopped.
func (l *Log) Append(ctx context.Context, e *Entry) error {
	if l.cfg.ReadOnly {
		return ErrReadOnly
	}
	if err := validateHeader(&e.Header); err != nil {
		return err
	}
	p := pendingPool.Get().(*pending)
	rec, hdr, pay, err := buildRecord(p.rec, e)
	if err != nil {
		pendingPool.Put(p)
		return err
	}
	p.rec = rec
	p.digest.Reset()
	p.digest.Write(rec[hdr[0]:hdr[1]])
	p.digest.Write(rec[pay[0]:pay[1]])
	p.also, p.done = e.Also, e.Done
	return l.enqueue(ctx, p)
}

// Write queues writes that must land in order with the events around them
// — a session counter set by a sequence reset, say — without being an event.
// fn runs on the committer goroutine and its sets land in the batch of the
// group it joins, after every event queued before it. done, if set, is
// called once the writes are durable (nil) or never will be.
func (l *Log) Write(ctx context.Context, fn func(set func(key, value []byte)), done func(error)) error {
	if l.cfg.ReadOnly {
		return ErrReadOnly
	}
	p := pendingPool.Get().(*pending)
	p.kvOnly = true
	p.also = func(_ uint64, set func(k, v []byte)) { fn(set) }
	if done != nil {
		p.done = func(_ uint64, _ Hash, err error) { done(err) }
	}
	return l.enqueue(ctx, p)
}

// enqueue hands p to the committer.
func (l *Log) enqueue(ctx context.Context, p *pending) error {
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if l.closing.Load() {
		l.recyclePending(p)
		return ErrClosed
	}
	if se := l.stopErr.Load(); se != nil {
		l.recyclePending(p)
		return se
	}
	select {
	case l.queue <- p:
		return nil
	case <-l.stopped:
		l.recyclePending(p)
		return l.stopErr.Load()
	case <-ctx.Done():
		l.recyclePending(p)
		return ctx.Err()
	}
}

func (l *Log) recyclePending(p *pending) {
	p.kvOnly, p.also, p.done = false, nil, nil
	pendingPool.Put(p)
}

// AppendWait appends e and waits until it is durable, returning its seq and
// EventHash. Any Done callback of e is replaced. If ctx ends after the entry
// was queued, AppendWait returns ctx.Err() but the entry may still become
// durable: a queued entry is never withdrawn.
func (l *Log) AppendWait(ctx context.Context, e *Entry) (uint64, Hash, error) {
	type result struct {
		seq uint64
		h   Hash
		err error
	}
	ch := make(chan result, 1)
	e.Done = func(seq uint64, h Hash, err error) { ch <- result{seq, h, err} }
	if err := l.Append(ctx, e); err != nil {
		return 0, Hash{}, err
	}
	select {
	case r := <-ch:
		return r.seq, r.h, r.err
	case <-ctx.Done():
		return 0, Hash{}, ctx.Err()
	}
}

// commitLoop is the committer goroutine.
func (l *Log) commitLoop() {
	defer l.wg.Done()
	ps := make([]*pending, 0, l.cfg.MaxBatch)
	kbuf := make([]byte, 0, 9)
	for {
		select {
		case p := <-l.queue:
			ps = append(ps, p)
		case <-l.quit:
			// Close waited for every Append in flight: the queue is final.
			for {
				select {
				case p := <-l.queue:
					ps = append(ps, p)
					if len(ps) == l.cfg.MaxBatch {
						l.commitGroup(ps, kbuf)
						ps = ps[:0]
					}
					continue
				default:
				}
				break
			}
			if len(ps) > 0 {
				l.commitGroup(ps, kbuf)
			}
			return
		}
	drain:
		for len(ps) < l.cfg.MaxBatch {
			select {
			case p := <-l.queue:
				ps = append(ps, p)
			default:
				break drain
			}
		}
		l.commitGroup(ps, kbuf)
		clear(ps)
		ps = ps[:0]
	}
}

// commitGroup links and writes one group. After the log has stopped it only
// fails the entries.
func (l *Log) commitGroup(ps []*pending, kbuf []byte) {
	if err := l.stopErr.Load(); err != nil {
		l.finish(ps, err)
		return
	}
	first := l.next
	prev := l.prev
	var start time.Time
	if l.cfg.Now != nil {
		start = l.cfg.Now() // once per group, for CommitLatency
	}
	b := l.batch()
	set := func(k, v []byte) { _ = b.Set(k, v, nil) }
	seq := first
	for _, p := range ps {
		if p.kvOnly {
			p.also(seq, set)
			p.seq = seq
			continue
		}
		h := finishHash(p.digest, prev, seq == 0)
		linkRecord(p.rec, prev, h)
		if err := b.Set(appendSeqKey(kbuf[:0], PrefixEvent, seq), p.rec, nil); err != nil {
			l.fail(err, first, first+uint64(len(ps))-1)
			b.Close()
			l.finish(ps, l.stopErr.Load())
			return
		}
		if p.also != nil {
			p.also(seq, set)
		}
		p.seq, p.hash = seq, h
		prev = h
		seq++
	}
	end := seq
	_ = b.Set(keyHead, binary.BigEndian.AppendUint64(nil, end), nil)
	g := group{first: first, end: end, ps: append([]*pending(nil), ps...), start: start}
	var err error
	if l.cfg.Durability == SyncPerGroup {
		// Pipelined group commit: the batch is written to the WAL and the
		// memtable in seq order here, and its fsync is awaited by the sync
		// waiter, so the committer builds the next group while the disk
		// syncs this one (Pebble merges the syncs of groups in flight).
		// DB.ApplyNoSyncWait is the API CockroachDB pipelines its Raft log
		// writes with; it is marked experimental, hence the pinned Pebble.
		err = l.applyNoSyncWait(b)
		g.b = b
	} else {
		err = l.commitBatch(b, pebble.NoSync)
	}
	if err != nil {
		l.fail(err, first, end-1)
		l.finish(g.ps, l.stopErr.Load())
		return
	}
	if g.b == nil {
		l.recycle(b) // committed synchronously
	}
	l.next, l.prev = end, prev
	l.committed.Store(end)
	if l.sign != nil {
		l.sign.dispatch(ps)
	}
	if l.cfg.Durability == SyncPerGroup {
		l.syncQ <- g
		return
	}
	l.unsyncedMu.Lock()
	l.unsynced = append(l.unsynced, g)
	l.unsyncedMu.Unlock()
}

// recoverFatal turns the fatalPanic of a Pebble Fatalf (which must not
// return, see logger.go) on the log's own goroutines into *err; any other
// panic goes on.
func recoverFatal(err *error) {
	if r := recover(); r != nil {
		fp, ok := r.(fatalPanic)
		if !ok {
			panic(r)
		}
		*err = fp.err
	}
}

// applyNoSyncWait applies b with Sync requested but not awaited.
func (l *Log) applyNoSyncWait(b *pebble.Batch) (err error) {
	defer recoverFatal(&err)
	return l.db.ApplyNoSyncWait(b, pebble.Sync)
}

// syncWaitLoop is the sync waiter of SyncPerGroup mode: it awaits each
// group's fsync in commit order and only then advances the watermark.
func (l *Log) syncWaitLoop() {
	defer l.syncWG.Done()
	for g := range l.syncQ {
		err := g.b.SyncWait()
		if err == nil {
			l.recycle(g.b)
		}
		if err != nil {
			// A failed fsync leaves the file's state unknowable: stop for good.
			// Pebble does not route this error through Logger.Fatalf.
			l.fail(fmt.Errorf("fsync of seq %d..%d: %w", g.first, g.end-1, err), g.first, g.end-1)
			l.finish(g.ps, l.stopErr.Load())
			l.fatal(err)
			continue
		}
		if se := l.stopErr.Load(); se != nil && g.end > se.FirstSeq {
			l.finish(g.ps, se) // at or after the failed group: never acknowledged
			continue
		}
		l.advance(g.end)
		l.observe(g)
		l.finish(g.ps, nil)
	}
}

// observe records g's commit latency, once it is durable.
func (l *Log) observe(g group) {
	if l.cfg.Now != nil && !g.start.IsZero() {
		l.latency.observe(l.cfg.Now().Sub(g.start))
	}
}

// fatal hands a storage failure to Config.Fatal once, off the caller's
// critical section; unlike Pebble's Fatalf it may return (the log is
// already stopped).
func (l *Log) fatal(err error) {
	l.fatalOnce.Do(func() { l.logger.fatal(err) })
}

// commitBatch commits b, turning a Pebble fatal (whose Fatalf does not
// return, see logger.go) into an error.
func (l *Log) commitBatch(b *pebble.Batch, opt *pebble.WriteOptions) (err error) {
	defer recoverFatal(&err)
	return b.Commit(opt)
}

// Batches are reused: a group of thousands of ~1 KiB events would otherwise
// allocate (and grow by doubling) a multi-megabyte buffer per group.
const batchRetain = 8 << 20

// batch returns an empty batch, reused when one is free.
func (l *Log) batch() *pebble.Batch {
	select {
	case b := <-l.freeBatches:
		return b
	default:
		return l.db.NewBatch(pebble.WithMaxRetainedSizeBytes(batchRetain))
	}
}

// recycle takes back a batch whose commit (and fsync, if awaited) is done.
func (l *Log) recycle(b *pebble.Batch) {
	b.Reset()
	select {
	case l.freeBatches <- b:
	default:
		b.Close()
	}
}

// syncLoop is the syncer goroutine of SyncInterval mode.
func (l *Log) syncLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.syncNow()
		case <-l.quit:
			return
		}
	}
}

// syncNow fsyncs the WAL and advances the durable watermark to what was
// committed before the fsync began.
func (l *Log) syncNow() {
	if l.stopErr.Load() != nil {
		return
	}
	target := l.committed.Load()
	l.unsyncedMu.Lock()
	waiting := len(l.unsynced)
	l.unsyncedMu.Unlock()
	// Nothing new, unless groups without events (Writes) wait for an fsync.
	if target <= l.durable.Load() && waiting == 0 {
		return
	}
	if err := l.syncWAL(); err != nil {
		l.fail(err, l.durable.Load(), target-1)
		l.unsyncedMu.Lock()
		gs := l.unsynced
		l.unsynced = nil
		l.unsyncedMu.Unlock()
		for _, g := range gs {
			l.finish(g.ps, l.stopErr.Load())
		}
		return
	}
	if target > l.durable.Load() {
		l.advance(target)
	}
	l.unsyncedMu.Lock()
	n := 0
	for n < len(l.unsynced) && l.unsynced[n].end <= target {
		n++
	}
	gs := l.unsynced[:n:n]
	l.unsynced = l.unsynced[n:]
	l.unsyncedMu.Unlock()
	for _, g := range gs {
		l.observe(g)
		l.finish(g.ps, nil)
	}
}

// syncWAL fsyncs everything committed so far: an empty LogData record
// written with Sync waits for the WAL to be synced past every earlier batch.
func (l *Log) syncWAL() (err error) {
	defer recoverFatal(&err)
	return l.db.LogData(nil, pebble.Sync)
}

// finish reports entries' outcome and recycles them.
func (l *Log) finish(ps []*pending, stop *StoppedError) {
	for _, p := range ps {
		if p.done != nil {
			if stop != nil {
				p.done(0, Hash{}, stop)
			} else {
				p.done(p.seq, p.hash, nil)
			}
		}
		l.recyclePending(p)
	}
}

// fail stops the log for good: the watermark stays where it is and every
// later Append and every queued entry gets the StoppedError.
func (l *Log) fail(err error, first, last uint64) {
	if fe := l.logger.err.Load(); fe != nil && !errors.Is(err, *fe) {
		err = fmt.Errorf("%w (%w)", err, *fe)
	}
	l.stopOnce.Do(func() {
		se := &StoppedError{FirstSeq: first, LastSeq: last, Durable: l.durable.Load(), Err: err}
		l.stopErr.Store(se)
		l.logger.log.Error(se.Error())
		close(l.stopped)
	})
}

func (l *Log) advance(size uint64) {
	l.durable.Store(size)
	l.notifyMu.Lock()
	close(l.notifyCh)
	l.notifyCh = make(chan struct{})
	l.notifyMu.Unlock()
}

// WriteStalls returns how many times Pebble stalled writes since Open.
func (l *Log) WriteStalls() int64 { return l.stalls.Load() }

// Durable returns the durable watermark: every seq below it is fsync'd.
// Readers outside the ingest path (checkpoints, exports) read only below it.
func (l *Log) Durable() uint64 { return l.durable.Load() }

// Err returns the error that stopped the log, or nil.
func (l *Log) Err() error {
	if e := l.stopErr.Load(); e != nil {
		return e
	}
	return nil
}

// WaitDurable waits until Durable() ≥ size. On a read-only log, whose
// watermark never moves, it fails at once with ErrReadOnly if Durable() <
// size.
func (l *Log) WaitDurable(ctx context.Context, size uint64) error {
	if l.cfg.ReadOnly && l.durable.Load() < size {
		return fmt.Errorf("%w: waiting for size %d, stored %d", ErrReadOnly, size, l.durable.Load())
	}
	for {
		l.notifyMu.Lock()
		ch := l.notifyCh
		l.notifyMu.Unlock()
		if l.durable.Load() >= size {
			return nil
		}
		select {
		case <-ch:
		case <-l.stopped:
			if l.durable.Load() >= size {
				return nil
			}
			return l.stopErr.Load()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the log in the documented order and closes Pebble. Entries
// queued before Close are committed and made durable.
func (l *Log) Close() error {
	if !l.closing.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if l.cfg.ReadOnly {
		if err := l.db.Close(); err != nil {
			return fmt.Errorf("chain: close pebble: %w", err)
		}
		return nil
	}
	for l.inflight.Load() != 0 {
		time.Sleep(50 * time.Microsecond)
	}
	close(l.quit)
	l.wg.Wait()
	close(l.syncQ)
	l.syncWG.Wait()
	var errs []error
	if l.stopErr.Load() == nil && l.cfg.Durability == SyncInterval {
		l.syncNow()
	}
	if l.sign != nil {
		l.sign.stop()
	}
	if se := l.stopErr.Load(); se != nil {
		errs = append(errs, se)
	}
	if err := l.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("chain: close pebble: %w", err))
	}
	return errors.Join(errs...)
}

// DB returns the Pebble DB the log lives in, for packages that keep their
// own keys beside it (see keys.go). They must not write 'e', 's' or 'm' keys.
func (l *Log) DB() *pebble.DB { return l.db }

// waitFor polls cond at the pace of the durable notifications, falling back
// to a short sleep (signatures have no notification of their own).
func waitFor(ctx context.Context, l *Log, cond func() bool) error {
	for !cond() {
		if err := l.Err(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// Sync waits until every entry queued before it is durable (a barrier: an
// empty Write, ordered behind them, acknowledged after their fsync).
func (l *Log) Sync(ctx context.Context) error {
	ch := make(chan error, 1)
	if err := l.Write(ctx, func(func(k, v []byte)) {}, func(err error) { ch <- err }); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
