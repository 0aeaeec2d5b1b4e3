package verify

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	mrand "math/rand/v2"
	"testing"
)

// TestBatchAgreesWithStdlib: for random batches with random corruptions
// (a flipped bit in R, in S, in the message; S ≥ L; another key), the
// batch verdict of every item equals crypto/ed25519.Verify's.
func TestBatchAgreesWithStdlib(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	r := mrand.New(mrand.NewPCG(1, 2))
	for round := 0; round < 60; round++ {
		n := 1 + r.IntN(70)
		items := make([]*batchItem, n)
		for i := range items {
			it := &batchItem{msg: sha256.Sum256([]byte{byte(round), byte(i)})}
			it.sig = ed25519.Sign(priv, it.msg[:])
			if round%3 != 0 && r.IntN(20) == 0 { // corrupt some
				switch r.IntN(5) {
				case 0:
					it.sig[r.IntN(32)] ^= 1 << r.IntN(8)
				case 1:
					it.sig[32+r.IntN(31)] ^= 1 << r.IntN(8)
				case 2:
					it.msg[r.IntN(32)] ^= 1
				case 3:
					it.sig[63] |= 0xf0 // S ≥ L
				case 4:
					it.sig = ed25519.Sign(other, it.msg[:])
				}
			}
			items[i] = it
		}
		verifyBatch(pub, items)
		for i, it := range items {
			if want := ed25519.Verify(pub, it.msg[:], it.sig); it.ok != want {
				t.Fatalf("round %d item %d: batch says %v, crypto/ed25519 %v", round, i, it.ok, want)
			}
		}
	}
}

func BenchmarkBatchVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	items := make([]*batchItem, 256)
	for i := range items {
		items[i] = &batchItem{msg: sha256.Sum256([]byte{byte(i), byte(i >> 8)})}
		items[i].sig = ed25519.Sign(priv, items[i].msg[:])
	}
	b.ResetTimer()
	for range b.N {
		verifyBatch(pub, items)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/sig")
}

// BenchmarkSingleVerify is crypto/ed25519.Verify alone, the cost
// BenchmarkBatchVerify's ns/sig is compared with.
func BenchmarkSingleVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := sha256.Sum256([]byte("event"))
	sig := ed25519.Sign(priv, msg[:])
	for range b.N {
		ed25519.Verify(pub, msg[:], sig)
	}
}
