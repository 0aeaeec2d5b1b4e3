package verify

import (
	"crypto/sha256"
)

// treeBuilder computes RFC 6962 Merkle tree hashes incrementally, leaf by
// leaf (docs/vcp-profile.md §3): leaf = SHA-256(0x00 ‖ raw EventHash), node =
// SHA-256(0x01 ‖ left ‖ right), split at the largest power of two below n.
// It keeps one hash per set bit of the size: the roots of the perfect
// subtrees the tree of n leaves decomposes into, largest first.
type treeBuilder struct {
	n     uint64
	stack [][32]byte
	buf   [65]byte
}

// add appends a leaf, given its leaf hash (leafHash, computed by the
// workers).
func (t *treeBuilder) add(leaf [32]byte) {
	h := leaf
	// Merge with as many equal-sized subtrees as the carry bits of n.
	for k := t.n; k&1 == 1; k >>= 1 {
		h = nodeHash(&t.buf, t.stack[len(t.stack)-1], h)
		t.stack = t.stack[:len(t.stack)-1]
	}
	t.stack = append(t.stack, h)
	t.n++
}

// root returns MTH of the leaves added so far (SHA-256() when none).
func (t *treeBuilder) root() [32]byte {
	if len(t.stack) == 0 {
		return sha256.Sum256(nil)
	}
	h := t.stack[len(t.stack)-1]
	var buf [65]byte
	for i := len(t.stack) - 2; i >= 0; i-- {
		h = nodeHash(&buf, t.stack[i], h)
	}
	return h
}

func nodeHash(buf *[65]byte, l, r [32]byte) [32]byte {
	buf[0] = 1
	copy(buf[1:33], l[:])
	copy(buf[33:65], r[:])
	return sha256.Sum256(buf[:])
}

// leafHash is the RFC 6962 leaf hash of an event.
func leafHash(eventHash [32]byte) [32]byte {
	var b [33]byte
	copy(b[1:], eventHash[:])
	return sha256.Sum256(b[:])
}
