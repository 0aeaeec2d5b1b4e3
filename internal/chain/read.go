package chain

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Get returns the durable record seq with its signature, if written.
// Readers may run concurrently with appends; not after Close.
func (l *Log) Get(seq uint64) (*Record, error) {
	if seq >= l.Durable() {
		return nil, fmt.Errorf("%w: seq %d, durable watermark %d", ErrNotDurable, seq, l.Durable())
	}
	r, err := l.readRecord(seq)
	if err != nil {
		return nil, err
	}
	v, closer, err := l.db.Get(seqKey(PrefixSignature, seq))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("chain: read signature %d: %w", seq, err)
	}
	defer closer.Close()
	return r, decodeSigRecord(seq, v, r)
}

// readRecord reads and decodes one event record (no signature), copying it
// out of Pebble.
func (l *Log) readRecord(seq uint64) (*Record, error) {
	v, closer, err := l.db.Get(seqKey(PrefixEvent, seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, &MissingRecordError{Seq: seq, Head: l.committed.Load()}
	}
	if err != nil {
		return nil, fmt.Errorf("chain: read seq %d: %w", seq, err)
	}
	defer closer.Close()
	return DecodeRecord(seq, bytes.Clone(v))
}

// Range calls fn for every record in [from, to), in seq order, with its
// signature when written. to must not exceed the durable watermark. The
// record is fn's to keep. A missing seq is an error, never skipped.
func (l *Log) Range(from, to uint64, fn func(*Record) error) error {
	if d := l.Durable(); to > d {
		return fmt.Errorf("%w: range to %d, durable watermark %d", ErrNotDurable, to, d)
	}
	if from >= to {
		return nil
	}
	sit, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: seqKey(PrefixSignature, from),
		UpperBound: seqKey(PrefixSignature, to),
	})
	if err != nil {
		return fmt.Errorf("chain: iterate signatures: %w", err)
	}
	defer sit.Close()
	sok := sit.First()
	expect := from
	err = l.scan(from, to, func(r *Record) error {
		if r.Seq != expect {
			return &MissingRecordError{Seq: expect, Head: l.committed.Load()}
		}
		expect++
		for sok && binary.BigEndian.Uint64(sit.Key()[1:]) < r.Seq {
			sok = sit.Next()
		}
		if sok && binary.BigEndian.Uint64(sit.Key()[1:]) == r.Seq {
			if err := decodeSigRecord(r.Seq, sit.Value(), r); err != nil {
				return err
			}
		}
		return fn(r)
	})
	if err != nil {
		return err
	}
	if err := sit.Error(); err != nil {
		return fmt.Errorf("chain: iterate signatures: %w", err)
	}
	if expect != to {
		return &MissingRecordError{Seq: expect, Head: l.committed.Load()}
	}
	return nil
}

// scan iterates the event records in [from, to) without signatures.
func (l *Log) scan(from, to uint64, fn func(*Record) error) error {
	it, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: seqKey(PrefixEvent, from),
		UpperBound: seqKey(PrefixEvent, to),
	})
	if err != nil {
		return fmt.Errorf("chain: iterate: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 9 {
			return &CorruptRecordError{Seq: from, Err: fmt.Errorf("%w: key %x", errRecord, k)}
		}
		seq := binary.BigEndian.Uint64(k[1:])
		r, err := DecodeRecord(seq, bytes.Clone(it.Value()))
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("chain: iterate: %w", err)
	}
	return nil
}

// ScanRecords calls fn with every event record of db in [from, to), in
// seq order, read straight from Pebble: no copy and no signature, for the
// derived views behind the durable watermark (internal/index, internal/xref)
// that read every record once. The caller keeps to at most the log's
// durable size. A missing seq is a *MissingRecordError, never skipped. r
// and its slices are valid only during fn. ctx is checked every 1024
// records.
func ScanRecords(ctx context.Context, db *pebble.DB, from, to uint64, fn func(r *Record) error) error {
	if from >= to {
		return nil
	}
	it, err := db.NewIter(&pebble.IterOptions{
		LowerBound: seqKey(PrefixEvent, from),
		UpperBound: seqKey(PrefixEvent, to),
	})
	if err != nil {
		return fmt.Errorf("chain: iterate: %w", err)
	}
	defer it.Close()
	expect := from
	for ok := it.First(); ok; ok = it.Next() {
		if expect%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := it.Key()
		if len(k) != 9 || binary.BigEndian.Uint64(k[1:]) != expect {
			return &MissingRecordError{Seq: expect, Head: to}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("chain: read record %d: %w", expect, err)
		}
		r, err := DecodeRecord(expect, v)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		expect++
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("chain: iterate: %w", err)
	}
	if expect != to {
		return &MissingRecordError{Seq: expect, Head: to}
	}
	return nil
}
