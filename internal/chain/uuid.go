package chain

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"

	"github.com/google/uuid"
)

// IDGen makes UUIDv7 event IDs (RFC 9562 §5.7) from capture times supplied
// by the caller — the tap's measured clock — rather than reading the wall
// clock itself (internal/clock is the only package that does).
//
// Layout: 48-bit Unix milliseconds, version 7, 12-bit sub-millisecond
// fraction (RFC 9562 §6.2 method 3, so IDs sort by capture time to ~244 ns),
// variant 10, 62 random bits from a ChaCha8 CSPRNG seeded from crypto/rand.
// IDs from one IDGen are strictly increasing even if the supplied time
// repeats or steps back (the fraction is bumped, §6.2).
//
// An IDGen is not safe for concurrent use; give each goroutine its own.
type IDGen struct {
	rng  *rand.ChaCha8
	last uint64 // ms<<12 | fraction of the last ID
}

// NewIDGen seeds a generator from crypto/rand.
func NewIDGen() *IDGen {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		// crypto/rand.Read does not fail on Linux ≥ 3.17 (getrandom).
		panic("chain: crypto/rand: " + err.Error())
	}
	return &IDGen{rng: rand.NewChaCha8(seed)}
}

// New returns a UUIDv7 for the capture time unixNanos.
func (g *IDGen) New(unixNanos int64) uuid.UUID {
	if unixNanos < 0 {
		unixNanos = 0
	}
	ms := uint64(unixNanos / 1e6)
	frac := uint64(unixNanos%1e6) * 4096 / 1e6
	t := ms<<12 | frac
	if t <= g.last {
		t = g.last + 1
	}
	g.last = t
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], (t>>12)<<16|0x7000|t&0xfff)
	binary.BigEndian.PutUint64(u[8:16], g.rng.Uint64()&^(3<<62)|2<<62)
	return u
}
