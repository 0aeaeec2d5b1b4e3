package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/index"
)

// Find resolves arg — a log seq (decimal) or an EventID — to the seq of an
// event of l.
//
// An EventID is a UUIDv7 whose first 48 bits are the capture time in Unix
// milliseconds (chain.IDGen); the generator only ever moves an ID forward
// of its capture time (when the clock repeats or steps back), never back.
// So the capture time lies in [t−δ, t+1 ms) for the ID's time t and a small
// δ: Find looks the event up by capture time (index.TimeRange) over δ = 0,
// then δ = 2 s, and scans the whole log, newest first, only when neither
// holds it (an ID bumped further, or not of version 7). It skips the index
// when its un-indexed tail is long (an index never built): each TimeRange
// would scan that tail anyway.
func Find(ctx context.Context, l *chain.Log, arg string) (uint64, error) {
	size := l.Durable()
	if n, err := strconv.ParseUint(arg, 10, 64); err == nil {
		if n >= size {
			return 0, &NotFoundError{What: "at seq " + arg, Size: size}
		}
		return n, nil
	}
	u, err := uuid.Parse(arg)
	if err != nil {
		return 0, &QueryError{Arg: arg, Reason: "neither a log seq nor an EventID (a UUID)"}
	}
	// The tap writes IDs in the canonical lower-case form; the header is
	// JCS, so the field is exactly this.
	needle := []byte(`"EventID":"` + u.String() + `"`)
	match := func(r *chain.Record) bool { return bytes.Contains(r.Header, needle) }
	notFound := &NotFoundError{What: "with EventID " + u.String(), Size: size}

	const maxTail = 1 << 16
	w, err := index.Watermark(l)
	if err != nil {
		return 0, fmt.Errorf("inspect: %w", err)
	}
	if u.Version() == 7 && size-w <= maxTail {
		ms := int64(binary.BigEndian.Uint64(u[:8]) >> 16)
		for _, back := range []int64{0, 2000} {
			seqs, err := index.TimeRange(ctx, l, (ms-back)*1e6, (ms+1)*1e6)
			if err != nil {
				return 0, fmt.Errorf("inspect: %w", err)
			}
			for i := len(seqs) - 1; i >= 0; i-- {
				r, err := l.Get(seqs[i])
				if err != nil {
					return 0, fmt.Errorf("inspect: %w", err)
				}
				if match(r) {
					return r.Seq, nil
				}
			}
		}
	}
	// Newest first: the events asked about are usually recent.
	const step = 4096
	for end := size; end > 0; {
		start := end - min(end, step)
		found, ok := uint64(0), false
		err := l.Range(start, end, func(r *chain.Record) error {
			if match(r) {
				found, ok = r.Seq, true
			}
			return ctx.Err()
		})
		if err != nil {
			return 0, fmt.Errorf("inspect: %w", err)
		}
		if ok {
			return found, nil
		}
		end = start
	}
	return 0, notFound
}
