package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
)

// Lookups read the index below its watermark and scan the records of the
// un-indexed tail [watermark, l.Durable()), so their answers are complete
// over every durable event however far the Indexer lags — or if it never
// ran (an index of another format is ignored: the whole log is the tail).
// They work on any *chain.Log, written or only read, and may run while the
// Indexer and the committer write. Results are log seqs, sorted ascending,
// without duplicates; nil when nothing matches.

var (
	// ErrCorruptIndex is wrapped by every error about the index's own keys
	// (*KeyError): the index must be rebuilt; the log is not affected.
	ErrCorruptIndex = errors.New("index: corrupt index")
	// ErrInvalidQuery is wrapped by every *QueryError.
	ErrInvalidQuery = errors.New("index: invalid query")
)

// QueryError refuses a lookup that cannot mean anything.
type QueryError struct {
	Query  string // the lookup, e.g. "Order"
	Reason string
}

func (e *QueryError) Error() string { return fmt.Sprintf("index: %s: %s", e.Query, e.Reason) }

// Unwrap lets errors.Is match ErrInvalidQuery.
func (e *QueryError) Unwrap() error { return ErrInvalidQuery }

// WatermarkError reports a watermark record that does not decode.
type WatermarkError struct {
	Value []byte
}

func (e *WatermarkError) Error() string {
	return fmt.Sprintf("%v: watermark of %d bytes, want 8", ErrCorruptIndex, len(e.Value))
}

// Unwrap lets errors.Is match ErrCorruptIndex.
func (e *WatermarkError) Unwrap() error { return ErrCorruptIndex }

// Watermark returns the index's watermark in l: every seq below it is
// indexed. It is 0 when the DB holds no index of this format, and never
// above l.Durable().
func Watermark(l *chain.Log) (uint64, error) {
	v, err := newView(l)
	return v.w, err
}

// readState reads the index's format and watermark. ok is false when the
// DB holds no index of this format.
func readState(db *pebble.DB) (w uint64, ok bool, err error) {
	format, err := get(db, keyFormat)
	if err != nil || !bytes.Equal(format, []byte(formatName)) {
		return 0, false, err
	}
	b, err := get(db, keyWatermark)
	switch {
	case err != nil:
		return 0, false, err
	case b == nil:
		return 0, true, nil
	case len(b) != 8:
		return 0, false, &WatermarkError{Value: b}
	}
	return binary.BigEndian.Uint64(b), true, nil
}

// get returns a copy of key's value, nil if absent.
func get(db *pebble.DB, key []byte) ([]byte, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index: read %q: %w", key, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// view is one lookup's picture: the index holds every seq below w; the
// records in [w, d) are scanned.
type view struct {
	l    *chain.Log
	db   *pebble.DB
	w, d uint64
}

func newView(l *chain.Log) (view, error) {
	v := view{l: l, db: l.DB()}
	// The watermark first: it is never above the durable watermark when
	// written, and that only grows, so w ≤ d.
	w, _, err := readState(v.db)
	if err != nil {
		return v, err
	}
	v.d = l.Durable()
	v.w = min(w, v.d)
	return v, nil
}

// scanIndex calls fn with every key in [lower, upper) whose seq is below
// the watermark (keys at or above it may be a newer round's, written after
// the watermark was read; the tail scan covers them).
func (v view) scanIndex(lower, upper []byte, fn func(Key) error) error {
	if v.w == 0 {
		return nil
	}
	it, err := v.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("index: iterate: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k, err := ParseKey(it.Key())
		if err != nil {
			return err
		}
		if k.Seq >= v.w {
			continue
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("index: iterate: %w", err)
	}
	return nil
}

// scanPrefix is scanIndex over every key starting with p.
func (v view) scanPrefix(p []byte, fn func(Key) error) error {
	return v.scanIndex(p, prefixEnd(p), fn)
}

// scanTail calls fn with the fields of every record in [v.w, v.d).
func (v view) scanTail(ctx context.Context, fn func(seq uint64, f *fields) error) error {
	return scanRecords(ctx, v.db, v.w, v.d, fn)
}

// scanRecords calls fn with the fields of every event record in [from, to),
// in seq order; a missing seq is an error, never skipped. The records are
// read straight from Pebble (no copy, no signature): fn gets fields only.
func scanRecords(ctx context.Context, db *pebble.DB, from, to uint64, fn func(seq uint64, f *fields) error) error {
	var f fields
	return chain.ScanRecords(ctx, db, from, to, func(r *chain.Record) error {
		if err := extract(r, &f); err != nil {
			return err
		}
		return fn(r.Seq, &f)
	})
}

// readFields reads and parses one record.
func (v view) readFields(seq uint64) (*fields, error) {
	b, err := get(v.db, binary.BigEndian.AppendUint64([]byte{chain.PrefixEvent}, seq))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, &chain.MissingRecordError{Seq: seq, Head: v.d}
	}
	r, err := chain.DecodeRecord(seq, b)
	if err != nil {
		return nil, err
	}
	f := &fields{}
	return f, extract(r, f)
}

type seqSet map[uint64]struct{}

func (s seqSet) sorted() []uint64 {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(s))
}

// ByKey returns the seqs of the events carrying value as an identifier of
// kind k, in session (every session if session is "").
func ByKey(ctx context.Context, l *chain.Log, k Kind, session, value string) ([]uint64, error) {
	if !k.valid() {
		return nil, &QueryError{Query: "ByKey", Reason: fmt.Sprintf("unknown kind %v", k)}
	}
	if value == "" {
		return nil, &QueryError{Query: "ByKey", Reason: "empty " + k.String()}
	}
	v, err := newView(l)
	if err != nil {
		return nil, err
	}
	out := seqSet{}
	if err := v.byKey(k, session, value, func(k Key) { out[k.Seq] = struct{}{} }); err != nil {
		return nil, err
	}
	err = v.scanTail(ctx, func(seq uint64, f *fields) error {
		if (session == "" || f.session == session) && f.has(k, value) {
			out[seq] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.sorted(), nil
}

// byKey calls fn with the indexed keys of value (kind k) in session, or in
// every session if session is "".
func (v view) byKey(k Kind, session, value string, fn func(Key)) error {
	p := appendValuePrefix(nil, k, value)
	if session != "" {
		p = appendString(p, session)
	}
	return v.scanPrefix(p, func(k Key) error { fn(k); return nil })
}

// Order returns every event of the order that id names: the events whose
// ClOrdID, OrigClOrdID, OrderID or ExecID (of VCP-TRADE or one of its
// Sides) is id, in session (any session if session is ""), and every event
// sharing a TraceID with one of them in its session — the order's whole
// lifecycle, through its cancel/replace chain, found from any of its
// identifiers. The tap derives TraceIDs from replace chains it remembers in
// memory (docs/vcp-profile.md §9(h)): a chain continued after a tap restart
// has a second TraceID, found from the identifiers of its own events.
func Order(ctx context.Context, l *chain.Log, session, id string) ([]uint64, error) {
	if id == "" {
		return nil, &QueryError{Query: "Order", Reason: "empty identifier"}
	}
	v, err := newView(l)
	if err != nil {
		return nil, err
	}
	type trace struct{ session, id string }
	out := seqSet{}
	traces := map[trace]bool{}
	// 1. The events naming id, indexed and in the tail.
	for _, k := range []Kind{ClOrdID, OrderID, ExecID} {
		if err := v.byKey(k, session, id, func(k Key) { out[k.Seq] = struct{}{} }); err != nil {
			return nil, err
		}
	}
	for seq := range out {
		f, err := v.readFields(seq)
		if err != nil {
			return nil, err
		}
		if t := f.trace(); t != "" {
			traces[trace{f.session, t}] = true
		}
	}
	err = v.scanTail(ctx, func(seq uint64, f *fields) error {
		if session != "" && f.session != session {
			return nil
		}
		if f.has(ClOrdID, id) || f.has(OrderID, id) || f.has(ExecID, id) {
			out[seq] = struct{}{}
			if t := f.trace(); t != "" {
				traces[trace{f.session, t}] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(traces) == 0 {
		return out.sorted(), nil
	}
	// 2. Every event of their traces, indexed and in the tail.
	for t := range traces {
		if err := v.byKey(TraceID, t.session, t.id, func(k Key) {
			// The prefix of session "" also matches longer sessions.
			if k.Session == t.session {
				out[k.Seq] = struct{}{}
			}
		}); err != nil {
			return nil, err
		}
	}
	err = v.scanTail(ctx, func(seq uint64, f *fields) error {
		if t := f.trace(); t != "" && traces[trace{f.session, t}] {
			out[seq] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.sorted(), nil
}

// trace returns f's TraceID, "" if none.
func (f *fields) trace() string {
	for _, x := range f.ids {
		if x.kind == TraceID {
			return x.value
		}
	}
	return ""
}

// Session returns the seqs of the events of FIX session name (the
// SessionID of their FIX or TapSession block). Events the tap writes about
// a session without either block (a transport drop, ERR_CONN) name it only
// in their text and are not included.
func Session(ctx context.Context, l *chain.Log, name string) ([]uint64, error) {
	if name == "" {
		return nil, &QueryError{Query: "Session", Reason: "empty session name"}
	}
	v, err := newView(l)
	if err != nil {
		return nil, err
	}
	out := seqSet{}
	if err := v.scanPrefix(appendSessionPrefix(nil, name), func(k Key) error {
		out[k.Seq] = struct{}{}
		return nil
	}); err != nil {
		return nil, err
	}
	err = v.scanTail(ctx, func(seq uint64, f *fields) error {
		if f.session == name {
			out[seq] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.sorted(), nil
}

// Sessions returns the names of every session with an event in the log,
// sorted.
func Sessions(ctx context.Context, l *chain.Log) ([]string, error) {
	v, err := newView(l)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	if v.w > 0 {
		// Skip scan: one seek per session.
		p := []byte{chain.PrefixIndex, subSession}
		it, err := v.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			return nil, fmt.Errorf("index: iterate: %w", err)
		}
		for ok := it.First(); ok; {
			k, err := ParseKey(it.Key())
			if err != nil {
				it.Close()
				return nil, err
			}
			names[k.Session] = true
			ok = it.SeekGE(prefixEnd(appendSessionPrefix(nil, k.Session)))
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return nil, fmt.Errorf("index: iterate: %w", err)
		}
	}
	err = v.scanTail(ctx, func(_ uint64, f *fields) error {
		if f.session != "" {
			names[f.session] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(names)), nil
}

// TimeRange returns the seqs of the events whose capture time
// (Header.TimestampInt, ns since the Unix epoch) is in [fromNs, toNs). Capture
// time is non-decreasing along the log in practice but not guaranteed
// across clock steps, so this is a seq list, not a seq interval.
func TimeRange(ctx context.Context, l *chain.Log, fromNs, toNs int64) ([]uint64, error) {
	if fromNs > toNs {
		return nil, &QueryError{Query: "TimeRange", Reason: fmt.Sprintf("from %d is after to %d", fromNs, toNs)}
	}
	if fromNs == toNs {
		return nil, nil
	}
	v, err := newView(l)
	if err != nil {
		return nil, err
	}
	out := seqSet{}
	if err := v.scanIndex(appendTimePrefix(nil, fromNs), appendTimePrefix(nil, toNs), func(k Key) error {
		out[k.Seq] = struct{}{}
		return nil
	}); err != nil {
		return nil, err
	}
	err = v.scanTail(ctx, func(seq uint64, f *fields) error {
		if f.hasTime && f.timeNs >= fromNs && f.timeNs < toNs {
			out[seq] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.sorted(), nil
}
