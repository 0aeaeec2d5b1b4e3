package seal

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// InclusionProof returns the RFC 6962 §2.1.1 audit path (RFC 9162 §2.1.3
// inclusion proof) of leaf seq in the tree of treeSize leaves, bottom-up, as
// tlog.ProveRecord makes it. Any treeSize with seq < treeSize ≤ Size() is
// accepted; a verifier checks it against the root of a checkpoint of that
// size (VCP: MerkleIndex = seq, MerkleRoot = that checkpoint's root).
func (s *Sealer) InclusionProof(seq, treeSize uint64) (tlog.RecordProof, error) {
	if n := s.Size(); treeSize > n {
		return nil, fmt.Errorf("%w: tree size %d, sealed %d", ErrNotSealed, treeSize, n)
	}
	if seq >= treeSize {
		return nil, fmt.Errorf("seal: inclusion proof: seq %d is not in a tree of %d", seq, treeSize)
	}
	p, err := tlog.ProveRecord(int64(treeSize), int64(seq), s.reader())
	if err != nil {
		return nil, fmt.Errorf("seal: inclusion proof of %d in %d: %w", seq, treeSize, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 §2.1.2 consistency proof (RFC 9162
// §2.1.4) that the tree of oldSize leaves is a prefix of the tree of
// newSize leaves, oldSize ≤ newSize ≤ Size(). It is empty when oldSize is 0
// or equals newSize.
func (s *Sealer) ConsistencyProof(oldSize, newSize uint64) (tlog.TreeProof, error) {
	if n := s.Size(); newSize > n {
		return nil, fmt.Errorf("%w: tree size %d, sealed %d", ErrNotSealed, newSize, n)
	}
	if oldSize > newSize {
		return nil, fmt.Errorf("seal: consistency proof: old size %d > new size %d", oldSize, newSize)
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(int64(newSize), int64(oldSize), s.reader())
	if err != nil {
		return nil, fmt.Errorf("seal: consistency proof %d→%d: %w", oldSize, newSize, err)
	}
	return p, nil
}
