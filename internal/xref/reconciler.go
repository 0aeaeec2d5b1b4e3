package xref

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
)

// Restart without duplicates or losses.
//
// Every outcome is appended with an Entry.Also that writes, in the same
// Pebble batch as the outcome, the watermark (s, n): n outcomes of the
// processing of record s have been appended (so every outcome of records
// before s too). The engine is deterministic, so after a restart the
// Reconciler loads its newest saved state (at record S, taken only when
// every outcome appended before it was durable), replays the records from
// S through the engine with nothing appended up to the watermark — the
// n first outcomes of record s included — and appends from there: the same
// outcomes as a run that never stopped, none twice.
//
// Keys (chain.PrefixXRef):
//
//	'r' "w"      watermark: seq(8) n(4), written with each outcome
//	'r' "state"  the engine's saved state (state.go)
var (
	keyWatermark = []byte{chain.PrefixXRef, 'w'}
	keyState     = []byte{chain.PrefixXRef, 's', 't', 'a', 't', 'e'}
)

// Reconciler runs the engine behind the log. Lifecycle: New starts its
// goroutine; Shutdown catches up, stops it (saving its state) and must
// return before the log is closed.
type Reconciler struct {
	l      *chain.Log
	cfg    Config
	log    *slog.Logger
	fp     string
	cancel context.CancelFunc
	// drain ends waiting for the log to grow: Shutdown's catch-up.
	drainCtx context.Context
	drain    context.CancelFunc
	done     chan struct{}
	err      error

	en   *engine
	rd   *reader
	ids  *chain.IDGen
	next uint64 // next record to read

	// Replay: outcomes are not appended for records < skipSeq, nor for
	// the first skipN outcomes of record skipSeq.
	skipSeq   uint64
	skipN     uint32
	cur       uint64 // record being processed
	curN      uint32 // outcomes of cur so far
	appendErr error
	broken    bool // the state is not whole: do not save it

	stateBuf []byte // save's encoding, reused

	processed atomic.Uint64
	outcomes  [3]atomic.Uint64 // MATCHED, DISCREPANCY, TIMEOUT appended
}

// fingerprint names the groups' settings; a saved state of other settings
// is not resumed.
func fingerprint(gs []Group) string {
	b, _ := json.Marshal(gs)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// New loads the saved state, replays the log since it and starts the
// Reconciler.
func New(ctx context.Context, l *chain.Log, cfg Config) (*Reconciler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	r := &Reconciler{l: l, cfg: cfg, log: lg.With("component", "xref"), fp: fingerprint(cfg.Groups),
		done: make(chan struct{}), rd: newReader(cfg.Groups), ids: chain.NewIDGen()}
	r.en = newEngine(cfg.Groups, cfg.MaxPending)
	ws, wn, hasW, err := r.readWatermark()
	if err != nil {
		return nil, err
	}
	st, err := r.readState()
	if err != nil {
		return nil, err
	}
	switch {
	case st != nil && st.Config == r.fp:
		r.restore(st)
	case st != nil || hasW:
		// Other groups or settings: earlier outcomes stand; start after them
		// with an empty state.
		r.log.Warn("reconciliation settings changed: pending matches are dropped", "saved_at", ws)
		r.next = max(ws+1, func() uint64 {
			if st != nil {
				return st.Seq
			}
			return 0
		}())
		hasW = false
	}
	if st == nil || st.Config != r.fp {
		// The empty state this run starts from, saved before any outcome
		// is appended: a run killed before its first periodic save
		// replays from here, with these settings, not from nowhere.
		if err := r.save(ctx); err != nil {
			return nil, err
		}
	}
	if hasW && ws >= r.next {
		r.skipSeq, r.skipN = ws, wn
	} else {
		r.skipSeq, r.skipN = r.next, 0
	}
	r.log.Info("reconciler starting", "config", cfg, "from", r.next, "replay_to", r.skipSeq, "log_size", l.Durable())
	ctx, r.cancel = context.WithCancel(ctx)
	r.drainCtx, r.drain = context.WithCancel(ctx)
	go r.run(ctx)
	return r, nil
}

func (r *Reconciler) readWatermark() (uint64, uint32, bool, error) {
	v, closer, err := r.l.DB().Get(keyWatermark)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("xref: read watermark: %w", err)
	}
	defer closer.Close()
	if len(v) != 12 {
		return 0, 0, false, fmt.Errorf("xref: watermark of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]), true, nil
}

func (r *Reconciler) readState() (*savedState, error) {
	v, closer, err := r.l.DB().Get(keyState)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("xref: read state: %w", err)
	}
	defer closer.Close()
	st, err := decodeState(v, len(r.cfg.Groups))
	if err != nil {
		return nil, fmt.Errorf("xref: read state: %w", err)
	}
	if st.Seq > r.l.Durable() {
		return nil, fmt.Errorf("xref: saved state at record %d is beyond the log (%d records)", st.Seq, r.l.Durable())
	}
	return st, nil
}

func (r *Reconciler) restore(st *savedState) {
	r.next = st.Seq
	r.en.logTime = st.LogTime
	for gi, es := range st.Groups {
		gs := &r.en.groups[gi]
		for _, e := range es {
			gs.table(e.Kind)[e.KeyValue] = e
			r.en.live++
			gs.all.push(e)
			if e.pending() {
				gs.pend.push(e)
			}
		}
	}
}

// save writes the state at r.next once every outcome appended is durable.
func (r *Reconciler) save(ctx context.Context) error {
	if err := r.l.Sync(ctx); err != nil {
		return err
	}
	r.stateBuf = encodeState(r.stateBuf[:0], r.en.state(r.fp, r.next))
	if err := r.l.DB().Set(keyState, r.stateBuf, pebble.Sync); err != nil {
		return fmt.Errorf("xref: save state: %w", err)
	}
	return nil
}

// Shutdown first reconciles what the log holds (serve stops the sessions
// before, so that it has an end), without MaxBusy's rests, until ctx
// ends; then it stops between two records, saves its state and returns.
// Call it before the final checkpoint, so that the checkpoint covers the
// outcomes, and before closing the log.
func (r *Reconciler) Shutdown(ctx context.Context) error {
	r.drain()
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel() // stops between two records
		<-r.done
	}
	r.cancel()
	if r.err != nil || r.broken {
		return r.err // the next start replays from the last good save
	}
	// Saved even when ctx ended: the engine is whole at r.next.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.save(sctx)
}

// Watermark returns the next record the Reconciler will read: every
// record below it is reconciled.
func (r *Reconciler) Watermark() uint64 { return r.processed.Load() }

var errStop = errors.New("xref: stopping")

// Totals returns the outcomes appended since New: MATCHED, DISCREPANCY,
// TIMEOUT.
func (r *Reconciler) Totals() (matched, discrepancy, timeout uint64) {
	return r.outcomes[0].Load(), r.outcomes[1].Load(), r.outcomes[2].Load()
}

func (r *Reconciler) run(ctx context.Context) {
	defer close(r.done)
	sinceSave := 0
	var in input
	for {
		d := r.l.Durable()
		if r.next >= d {
			if r.drainCtx.Err() != nil {
				return // caught up (Shutdown), or stopped
			}
			if err := r.l.WaitDurable(r.drainCtx, r.next+1); err != nil {
				if r.drainCtx.Err() != nil {
					continue
				}
				if !errors.Is(err, chain.ErrStopped) {
					r.fail(err)
				}
				return
			}
			select {
			case <-r.drainCtx.Done():
			case <-time.After(r.cfg.Interval):
			}
			continue
		}
		began := clock.Wall()
		end := min(d, r.next+uint64(r.cfg.MaxRound))
		start := r.next
		err := scanLog(r.l.DB(), r.next, end, func(rec *chain.Record) error {
			if ctx.Err() != nil {
				return errStop // between records: the state is whole at r.next
			}
			if err := r.rd.read(rec, &in); err != nil {
				return err
			}
			r.cur, r.curN = rec.Seq, 0
			r.en.step(&in, r.emit)
			if r.appendErr != nil {
				return r.appendErr
			}
			r.next = rec.Seq + 1
			return nil
		})
		r.processed.Store(r.next)
		if errors.Is(err, errStop) {
			return
		}
		if err != nil {
			// The engine may hold half a record's outcomes: never saved.
			r.broken = true
			if !errors.Is(err, chain.ErrStopped) && !errors.Is(err, chain.ErrClosed) {
				r.err = err
				r.fail(err)
			}
			return
		}
		if sinceSave += int(r.next - start); sinceSave >= r.cfg.SnapshotEvery && r.next > r.skipSeq {
			sinceSave = 0
			if err := r.save(ctx); err != nil {
				if ctx.Err() == nil {
					r.fail(err)
					r.err = err
				}
				r.broken = true
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The busy cap: a rest in proportion to the round's work, so that
		// a saturated ingest keeps the processor and the reconciler lags.
		// Shutdown's catch-up does not rest.
		if rest := busyRest(clock.Wall().Sub(began), r.cfg.MaxBusy); rest > 0 && r.drainCtx.Err() == nil {
			select {
			case <-r.drainCtx.Done():
			case <-time.After(rest):
			}
		}
	}
}

// busyRest is the rest after a round that took d, so that rounds fill at
// most maxBusy percent of the time: d×(100−maxBusy)/maxBusy.
func busyRest(d time.Duration, maxBusy int) time.Duration {
	return d * time.Duration(100-maxBusy) / time.Duration(maxBusy)
}

func (r *Reconciler) fail(err error) {
	r.log.Error("reconciler stopped", "next", r.next, "err", err)
}

// emit is the engine's emitFunc: it appends the outcome unless the replay
// says it is already in the log. Append is not cancelled by Shutdown (the
// log is open until Shutdown returns), so a record's outcomes are appended
// whole.
func (r *Reconciler) emit(_ int, x *chain.XRef, traceID, symbol string) {
	seq, n := r.cur, r.curN
	r.curN++
	if seq < r.skipSeq || (seq == r.skipSeq && n < r.skipN) || r.appendErr != nil {
		return
	}
	now, status, clk := r.cfg.Clock.Stamp()
	x.CrossReferenceID = r.ids.New(now).String()
	code, _ := chain.AUD.Code()
	e := &chain.Entry{
		Header: chain.Header{EventID: r.ids.New(now).String(), TraceID: traceID, TimestampInt: strconv.FormatInt(now, 10),
			TimestampISO: time.Unix(0, now).UTC().Format("2006-01-02T15:04:05.000000000Z"), EventType: chain.AUD, EventTypeCode: code,
			TimestampPrecision: chain.PrecisionNanosecond, ClockSyncStatus: status, HashAlgo: chain.HashAlgoSHA256,
			VenueID: r.cfg.VenueID, Symbol: symbol},
		Payload: chain.Payload{Clock: clk, PolicyIdentification: &r.cfg.Policy, XRef: x},
		Also: func(_ uint64, set func(k, v []byte)) {
			v := binary.BigEndian.AppendUint64(make([]byte, 0, 12), seq)
			set(keyWatermark, binary.BigEndian.AppendUint32(v, n+1))
		},
	}
	if err := r.l.Append(context.Background(), e); err != nil {
		r.appendErr = fmt.Errorf("xref: append outcome: %w", err)
		return
	}
	switch x.ReconciliationStatus {
	case chain.XRefMatched:
		r.outcomes[0].Add(1)
	case chain.XRefDiscrepancy:
		r.outcomes[1].Add(1)
	default:
		r.outcomes[2].Add(1)
	}
}
