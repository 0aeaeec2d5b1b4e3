package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// keyTreeSize holds the tree size the stored hashes cover. It is the bare
// 't' prefix: one byte, so it cannot equal any 't' + index(8) key.
var keyTreeSize = []byte{chain.PrefixTree}

// emptyRoot is MTH({}) = SHA-256() (RFC 6962 §2.1). tlog.TreeHash(0)
// returns the zero hash instead, so every root goes through treeHash.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// LeafHash is the RFC 6962 §2.1 leaf hash of an event:
// SHA-256(0x00 ‖ raw 32-byte EventHash). tlog.RecordHash(data) computes
// SHA256(0x00 ‖ data).
func LeafHash(eventHash chain.Hash) tlog.Hash { return tlog.RecordHash(eventHash[:]) }

func hashKey(index int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{chain.PrefixTree}, uint64(index))
}

func appendHashKey(dst []byte, index int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, chain.PrefixTree), uint64(index))
}

// hashReader is a tlog.HashReader over the stored hashes in Pebble, plus
// the hashes of a round not yet committed: pending[i] is stored index
// base+i. Only the sealer goroutine has pending hashes; every other reader
// has base = math.MaxInt64 and reads Pebble alone.
type hashReader struct {
	db      *pebble.DB
	base    int64
	pending []tlog.Hash
}

// ReadHashes implements tlog.HashReader. A missing hash is an error (a tree
// with a hole is corrupt), never a zero hash. Stored hashes are read with
// one iterator and a seek per index: a proof needs a few dozen scattered
// hashes, and a Pebble Get builds an iterator each time.
func (r *hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var it *pebble.Iterator
	defer func() {
		if it != nil {
			it.Close()
		}
	}()
	var kbuf []byte
	for i, idx := range indexes {
		if idx >= r.base {
			if idx-r.base >= int64(len(r.pending)) {
				return nil, fmt.Errorf("seal: read tree hash %d: not yet computed (%d stored, %d pending)", idx, r.base, len(r.pending))
			}
			out[i] = r.pending[idx-r.base]
			continue
		}
		if it == nil {
			var err error
			it, err = r.db.NewIter(&pebble.IterOptions{
				LowerBound: []byte{chain.PrefixTree},
				UpperBound: []byte{chain.PrefixTree + 1},
			})
			if err != nil {
				return nil, fmt.Errorf("seal: read tree hashes: %w", err)
			}
		}
		kbuf = appendHashKey(kbuf[:0], idx)
		if !it.SeekGE(kbuf) || !bytes.Equal(it.Key(), kbuf) {
			if err := it.Error(); err != nil {
				return nil, fmt.Errorf("seal: read tree hash %d: %w", idx, err)
			}
			return nil, fmt.Errorf("seal: tree hash %d: %w: missing", idx, ErrMalformed)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("seal: read tree hash %d: %w", idx, err)
		}
		if len(v) != len(tlog.Hash{}) {
			return nil, fmt.Errorf("seal: tree hash %d: %w: %d bytes", idx, ErrMalformed, len(v))
		}
		copy(out[i][:], v)
	}
	return out, nil
}

// treeHash is MTH of the first n leaves (RFC 6962 §2.1), the empty tree
// included.
func treeHash(n uint64, r tlog.HashReader) (tlog.Hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	h, err := tlog.TreeHash(int64(n), r)
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("seal: tree hash %d: %w", n, err)
	}
	return h, nil
}

// readTreeSize reads the stored tree size (0 if none).
func readTreeSize(db *pebble.DB) (uint64, error) {
	v, closer, err := db.Get(keyTreeSize)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("seal: read tree size: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("seal: tree size: %w: %d bytes", ErrMalformed, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// appendLeaves computes the stored hashes for leaves [size, size+len(leaves))
// and adds them, with the new tree size, to b. r.base must be
// StoredHashCount(size) and r.pending empty; on return r.pending holds the
// new hashes (so later rounds, and reads of this one, see them until the
// batch is committed and the caller resets r).
func appendLeaves(b *pebble.Batch, r *hashReader, size uint64, leaves []tlog.Hash) error {
	r.pending = r.pending[:0]
	if r.pending == nil {
		r.pending = make([]tlog.Hash, 0, 2*len(leaves)+64)
	}
	var kbuf []byte
	for i, lh := range leaves {
		n := int64(size) + int64(i)
		hs, err := tlog.StoredHashesForRecordHash(n, lh, r)
		if err != nil {
			return fmt.Errorf("seal: tree hashes for leaf %d: %w", n, err)
		}
		idx := r.base + int64(len(r.pending))
		for j := range hs {
			kbuf = appendHashKey(kbuf[:0], idx+int64(j))
			if err := b.Set(kbuf, hs[j][:], nil); err != nil {
				return fmt.Errorf("seal: batch: %w", err)
			}
		}
		r.pending = append(r.pending, hs...)
	}
	newSize := size + uint64(len(leaves))
	if err := b.Set(keyTreeSize, binary.BigEndian.AppendUint64(nil, newSize), nil); err != nil {
		return fmt.Errorf("seal: batch: %w", err)
	}
	return nil
}
