package tap

import (
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fixtap/fixtap/internal/fixmap"
)

// TestTraceIDFollowsOrigClOrdID: a replace joins the order it names in
// OrigClOrdID, even when its new ClOrdID was used before by another order
// (a sender that reuses identifiers across a restart).
func TestTraceIDFollowsOrigClOrdID(t *testing.T) {
	s := &session{name: "FIX.4.4:TAP->BROKER", roots: map[string]string{}}
	old := s.traceID(fixmap.OrderKeys{ClOrdID: "C72", OrderID: "O72"})  // the morning's C72
	ack := s.traceID(fixmap.OrderKeys{ClOrdID: "C51", OrderID: "O51b"}) // the afternoon's order
	replace := s.traceID(fixmap.OrderKeys{ClOrdID: "C72", OrigClOrdID: "C51", OrderID: "O51b"})
	fill := s.traceID(fixmap.OrderKeys{ClOrdID: "C72", OrderID: "O51b"})
	if replace != ack || fill != ack {
		t.Fatalf("replace %s and later fill %s should join the order %s, not %s", replace, fill, ack, old)
	}
	if old == ack {
		t.Fatal("two orders share a TraceID")
	}
	if again := s.traceID(fixmap.OrderKeys{ClOrdID: "C99", OrigClOrdID: "C72", OrderID: "O51b"}); again != ack {
		t.Fatalf("a second replace left the chain: %s", again)
	}
}

// traceIDOneMap is traceID as it was with a single map whose OrderID keys
// were "\x00oid:"+OrderID: the reference the two-map version must equal.
func traceIDOneMap(name string, roots map[string]string, k fixmap.OrderKeys) string {
	root := ""
	switch {
	case k.ClOrdID != "":
		if k.OrigClOrdID != "" {
			root = roots[k.OrigClOrdID]
			if root == "" {
				root = k.OrigClOrdID
			}
		} else {
			root = roots[k.ClOrdID]
		}
		if root == "" && k.OrderID != "" {
			root = roots["\x00oid:"+k.OrderID]
		}
		if root == "" {
			root = k.ClOrdID
		}
	case k.OrigClOrdID != "":
		root = roots[k.OrigClOrdID]
		if root == "" {
			root = k.OrigClOrdID
		}
	case k.OrderID != "":
		root = roots["\x00oid:"+k.OrderID]
		if root == "" {
			root = "\x00oid:" + k.OrderID
		}
	default:
		return ""
	}
	if k.ClOrdID != "" {
		if old, ok := roots[k.ClOrdID]; !ok || old != root {
			roots[k.ClOrdID] = root
		}
	}
	if k.OrderID != "" {
		if _, ok := roots["\x00oid:"+k.OrderID]; !ok {
			roots["\x00oid:"+k.OrderID] = root
		}
	}
	h := sha256.Sum256([]byte("fixtap-trace/1\x00" + name + "\x00" + root))
	var u uuid.UUID
	copy(u[:], h[:])
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// TestTraceIDMatchesOneMap drives traceID and the single-map reference
// with the same random key sequences, drawn from a small pool so that
// replace chains, reused identifiers, absent keys and ClOrdIDs that look
// like the reference's OrderID keys all occur; every TraceID must agree.
func TestTraceIDMatchesOneMap(t *testing.T) {
	pool := []string{"", "", "C1", "C2", "C3", "O1", "O2", "\x00oid:O1", "\x00oid:C2", "\x00oid:", "X"}
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		s := &session{name: "FIX.4.4:TAP->BROKER", roots: map[string]string{}}
		ref := map[string]string{}
		for i := range 200 {
			k := fixmap.OrderKeys{
				ClOrdID:     pool[rng.IntN(len(pool))],
				OrigClOrdID: pool[rng.IntN(len(pool))],
				OrderID:     pool[rng.IntN(len(pool))],
			}
			if got, want := s.traceID(k), traceIDOneMap(s.name, ref, k); got != want {
				t.Fatalf("seed %d step %d keys %q: TraceID %s, the single map gives %s", seed, i, k, got, want)
			}
		}
		if got := len(s.roots) + len(s.orderRoots); got != len(ref) {
			t.Fatalf("seed %d: %d remembered keys, the single map has %d", seed, got, len(ref))
		}
	}
}

// TestISONano compares appendISONano with time.Format at the ends of int64
// nanoseconds, around the epoch and leap days, and at random instants.
func TestISONano(t *testing.T) {
	ns := []int64{math.MinInt64, math.MaxInt64, -1, 0, 1, 999_999_999, 1_000_000_000,
		951_782_400_000_000_000, 4_107_542_399_999_999_999, 1_763_700_000_123_456_789}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		ns = append(ns, int64(rng.Uint64()))
	}
	for _, n := range ns {
		if got, want := string(appendISONano([]byte("x"), n)), "x"+time.Unix(0, n).UTC().Format(isoLayout); got != want {
			t.Fatalf("appendISONano(%d) = %s, time.Format gives %s", n, got, want)
		}
	}
}

// TestAppendUUID compares appendUUID with uuid.UUID.String.
func TestAppendUUID(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	us := []uuid.UUID{{}, uuid.Max}
	for range 10_000 {
		var u uuid.UUID
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		us = append(us, u)
	}
	for _, u := range us {
		if got, want := string(appendUUID([]byte("x"), u)), "x"+u.String(); got != want {
			t.Fatalf("appendUUID(%x) = %s, uuid gives %s", u[:], got, want)
		}
	}
}
