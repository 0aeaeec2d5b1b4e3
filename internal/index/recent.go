package index

import (
	"context"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
)

// SessionLast returns the seqs of the newest n events of FIX session name
// — the last n of what Session returns — ascending. It reads backwards:
// the un-indexed tail, then the session's index keys from the newest one
// below the watermark, so its cost follows n and the tail, not the
// session's whole history (Session on a long-lived tap returns millions of
// seqs).
func SessionLast(ctx context.Context, l *chain.Log, name string, n int) ([]uint64, error) {
	if name == "" {
		return nil, &QueryError{Query: "SessionLast", Reason: "empty session name"}
	}
	if n <= 0 {
		return nil, &QueryError{Query: "SessionLast", Reason: fmt.Sprintf("n %d, want at least 1", n)}
	}
	v, err := newView(l)
	if err != nil {
		return nil, err
	}
	// The tail, keeping only its newest n (trimmed when twice that).
	var tail []uint64
	err = v.scanTail(ctx, func(seq uint64, f *fields) error {
		if f.session == name {
			tail = append(tail, seq)
			if len(tail) >= 2*n {
				tail = append(tail[:0], tail[len(tail)-n:]...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(tail) > n {
		tail = tail[len(tail)-n:]
	}
	need := n - len(tail)
	if need == 0 || v.w == 0 {
		return nilIfEmpty(tail), nil
	}
	// The session's keys are 'x' 's' len(name) name seq(8): the keys of
	// seqs below the watermark are exactly [prefix, prefix‖watermark).
	it, err := v.db.NewIter(&pebble.IterOptions{
		LowerBound: appendSessionPrefix(nil, name),
		UpperBound: appendSessionKey(nil, name, v.w),
	})
	if err != nil {
		return nil, fmt.Errorf("index: iterate: %w", err)
	}
	defer it.Close()
	older := make([]uint64, 0, need)
	for ok := it.Last(); ok && len(older) < need; ok = it.Prev() {
		k, err := ParseKey(it.Key())
		if err != nil {
			return nil, err
		}
		older = append(older, k.Seq)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("index: iterate: %w", err)
	}
	slices.Reverse(older)
	return nilIfEmpty(append(older, tail...)), nil
}

func nilIfEmpty(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return s
}
