package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// syntheticEventHashes returns n EventHash-like values, SHA-256 of the
// index: the tree only ever sees EventHashes.
func syntheticEventHashes(n int) []chain.Hash {
	out := make([]chain.Hash, n)
	var b [8]byte
	for i := range out {
		binary.BigEndian.PutUint64(b[:], uint64(i))
		out[i] = sha256.Sum256(b[:])
	}
	return out
}

func leafHashes(ehs []chain.Hash) []tlog.Hash {
	out := make([]tlog.Hash, len(ehs))
	for i := range ehs {
		out[i] = LeafHash(ehs[i])
	}
	return out
}

// independentRoots computes the RFC 6962 roots of the given prefix sizes
// (sorted) with transparency-dev/merkle's compact range and rfc6962 hasher,
// sharing no code with tlog.
func independentRoots(t *testing.T, ehs []chain.Hash, sizes []uint64) map[uint64][]byte {
	t.Helper()
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	roots := make(map[uint64][]byte, len(sizes))
	next := 0
	for _, sz := range sizes {
		for uint64(next) < sz {
			if err := r.Append(rfc6962.DefaultHasher.HashLeaf(ehs[next][:]), nil); err != nil {
				t.Fatal(err)
			}
			next++
		}
		if sz == 0 {
			roots[0] = rfc6962.DefaultHasher.EmptyRoot()
			continue
		}
		root, err := r.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		roots[sz] = root
	}
	return roots
}

// TestProofsRandom stores a tree of just over 100k leaves in Pebble and
// checks roots, inclusion proofs and consistency proofs at random sizes
// against the independent transparency-dev/merkle implementation.
func TestProofsRandom(t *testing.T) {
	const n = 100_003
	ehs := syntheticEventHashes(n)
	db := openDB(t)
	s := storeLeaves(t, db, 0, leafHashes(ehs), 16384)

	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []uint64{0, 1, 2, 3, 4, 5, 8, 65535, 65536, 65537, n - 1, n}
	for range 40 {
		sizes = append(sizes, 1+rng.Uint64N(n))
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	roots := independentRoots(t, ehs, sizes)
	h := rfc6962.DefaultHasher

	for _, sz := range sizes {
		got, err := s.TreeHash(sz)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:], roots[sz]) {
			t.Fatalf("TreeHash(%d) = %x, independent root %x", sz, got[:], roots[sz])
		}
		if sz == 0 {
			continue
		}
		idx := []uint64{0, sz - 1, sz / 2}
		for range 8 {
			idx = append(idx, rng.Uint64N(sz))
		}
		for _, i := range idx {
			p, err := s.InclusionProof(i, sz)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(h, i, sz, h.HashLeaf(ehs[i][:]), proofBytes(p), roots[sz]); err != nil {
				t.Fatalf("VerifyInclusion(%d, %d): %v", i, sz, err)
			}
		}
	}
	for k := range sizes {
		for _, j := range []int{k, min(k+1, len(sizes)-1), rng.IntN(len(sizes)-k) + k} {
			a, b := sizes[k], sizes[j]
			p, err := s.ConsistencyProof(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(h, a, b, proofBytes(p), roots[a], roots[b]); err != nil {
				t.Fatalf("VerifyConsistency(%d, %d): %v", a, b, err)
			}
		}
	}

	// Beyond the sealed tree: refused, not guessed.
	if _, err := s.InclusionProof(0, n+1); !errors.Is(err, ErrNotSealed) {
		t.Errorf("InclusionProof beyond the tree: %v, want ErrNotSealed", err)
	}
	if _, err := s.ConsistencyProof(1, n+1); !errors.Is(err, ErrNotSealed) {
		t.Errorf("ConsistencyProof beyond the tree: %v, want ErrNotSealed", err)
	}
	if _, err := s.InclusionProof(5, 5); err == nil {
		t.Error("InclusionProof(5, 5): no error")
	}
}

// TestProofsRejectTampering: a verifier holding a checkpoint (size, root)
// rejects a tampered leaf, a reordered pair of leaves and a truncated log.
func TestProofsRejectTampering(t *testing.T) {
	const n = 1000
	ehs := syntheticEventHashes(n)
	h := rfc6962.DefaultHasher
	s := storeLeaves(t, openDB(t), 0, leafHashes(ehs), 256)
	root, err := s.TreeHash(n)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("TamperedLeaf", func(t *testing.T) {
		const i = 417
		p, err := s.InclusionProof(i, n)
		if err != nil {
			t.Fatal(err)
		}
		bad := ehs[i]
		bad[7] ^= 1
		if err := proof.VerifyInclusion(h, i, n, h.HashLeaf(bad[:]), proofBytes(p), root[:]); err == nil {
			t.Error("tampered EventHash verified")
		}
		p[2][0] ^= 1
		if err := proof.VerifyInclusion(h, i, n, h.HashLeaf(ehs[i][:]), proofBytes(p), root[:]); err == nil {
			t.Error("tampered proof verified")
		}
	})

	t.Run("ReorderedPair", func(t *testing.T) {
		const i = 600
		swapped := slices.Clone(ehs)
		swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
		s2 := storeLeaves(t, openDB(t), 0, leafHashes(swapped), 256)
		root2, err := s2.TreeHash(n)
		if err != nil {
			t.Fatal(err)
		}
		if root2 == root {
			t.Fatal("reordered log has the checkpoint's root")
		}
		// The reordered log's proof of its leaf i (the original i+1) does
		// not verify against the checkpoint.
		p, err := s2.InclusionProof(i, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(h, i, n, h.HashLeaf(swapped[i][:]), proofBytes(p), root[:]); err == nil {
			t.Error("reordered leaf verified against the checkpoint")
		}
		// Nor can it prove its prefix consistent with the checkpoint.
		old := uint64(i + 2)
		oldRoot, _ := s2.TreeHash(old)
		cp, err := s.ConsistencyProof(old, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(h, old, n, proofBytes(cp), oldRoot[:], root[:]); err == nil {
			t.Error("reordered prefix verified consistent with the checkpoint")
		}
	})

	t.Run("TruncatedLog", func(t *testing.T) {
		s3 := storeLeaves(t, openDB(t), 0, leafHashes(ehs[:n-1]), 256)
		root3, err := s3.TreeHash(n - 1)
		if err != nil {
			t.Fatal(err)
		}
		if root3 == root {
			t.Fatal("truncated log has the checkpoint's root")
		}
		// The truncated log cannot reach the checkpoint's size...
		if _, err := s3.InclusionProof(n-1, n); !errors.Is(err, ErrNotSealed) {
			t.Errorf("truncated log proved a leaf it lacks: %v", err)
		}
		// ...and its own root does not stand in for the checkpoint's.
		p, err := s3.InclusionProof(n-2, n-1)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(h, n-2, n, h.HashLeaf(ehs[n-2][:]), proofBytes(p), root[:]); err == nil {
			t.Error("proof from the truncated tree verified against the checkpoint")
		}
		if err := proof.VerifyConsistency(h, n, n, nil, root3[:], root[:]); err == nil {
			t.Error("truncated root accepted as the checkpoint's")
		}
	})
}
