package verify

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	mrand "math/rand/v2"

	"filippo.io/edwards25519"
)

// Ed25519 batch verification. Checking one signature costs about 54 µs on
// the reference machine; a bundle's signatures all come from one or a few
// keys, so a batch of them is checked with one multi-scalar multiplication
// (RFC 8032 §5.1.7's cofactored equation, combined with random 128-bit
// weights z_i, as in Bernstein et al., "High-speed high-security
// signatures", §4):
//
//	[8]( (Σ z_i·S_i)·B − Σ z_i·R_i − (Σ z_i·k_i)·A ) = 0,  k_i = SHA-512(R_i ‖ A ‖ M_i)
//
// A batch that fails is re-checked one signature at a time with
// crypto/ed25519, so a failure is always attributed to the exact event, with
// the standard library's verdict. A batch that passes means every signature
// satisfies the cofactored equation; it can differ from the cofactorless
// one-by-one check only for signatures built with the private key itself
// (torsion components chosen by the signer), which gives a forger nothing.

// batchItem is one signature to check: the message is the raw 32-byte
// EventHash (docs/vcp-profile.md §5).
type batchItem struct {
	msg [32]byte
	sig []byte
	ok  bool // set by verifyBatch
}

// verifyBatch sets ok on every item whose signature by pub verifies.
func verifyBatch(pub ed25519.PublicKey, items []*batchItem) {
	if len(items) == 0 {
		return
	}
	if len(items) >= 4 && batchHolds(pub, items) {
		for _, it := range items {
			it.ok = true
		}
		return
	}
	for _, it := range items {
		it.ok = ed25519.Verify(pub, it.msg[:], it.sig)
	}
}

// batchHolds reports whether the batch equation holds for every item. Any
// malformed input makes it false (the caller then checks one by one).
func batchHolds(pub ed25519.PublicKey, items []*batchItem) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return false
	}
	rng := mrand.NewChaCha8(seed)
	n := len(items)
	scalars := make([]*edwards25519.Scalar, n+2)
	points := make([]*edwards25519.Point, n+2)
	sumS := edwards25519.NewScalar()
	sumK := edwards25519.NewScalar()
	var zb [64]byte
	var kb [64]byte
	h := sha512.New()
	for i, it := range items {
		if len(it.sig) != ed25519.SignatureSize || !canonicalPoint(it.sig[:32]) {
			return false
		}
		R, err := new(edwards25519.Point).SetBytes(it.sig[:32])
		if err != nil {
			return false
		}
		S, err := edwards25519.NewScalar().SetCanonicalBytes(it.sig[32:])
		if err != nil {
			return false
		}
		h.Reset()
		h.Write(it.sig[:32])
		h.Write(pub)
		h.Write(it.msg[:])
		k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(kb[:0]))
		// z_i: 128 random bits.
		clear(zb[:])
		rng.Read(zb[:16])
		z, _ := edwards25519.NewScalar().SetUniformBytes(zb[:])
		sumS.MultiplyAdd(z, S, sumS)
		sumK.MultiplyAdd(z, k, sumK)
		scalars[i] = edwards25519.NewScalar().Negate(z)
		points[i] = R
	}
	scalars[n], points[n] = sumS, edwards25519.NewGeneratorPoint()
	scalars[n+1], points[n+1] = edwards25519.NewScalar().Negate(sumK), A
	P := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	P.MultByCofactor(P)
	return P.Equal(edwards25519.NewIdentityPoint()) == 1
}

// canonicalPoint rejects a point encoding whose y coordinate is not
// reduced (y ≥ 2^255 − 19), as crypto/ed25519 does by re-encoding R.
func canonicalPoint(b []byte) bool {
	if b[31]&0x7f != 0x7f {
		return true
	}
	for i := 30; i >= 1; i-- {
		if b[i] != 0xff {
			return true
		}
	}
	return b[0] < 0xed
}
