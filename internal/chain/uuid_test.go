package chain

import (
	"testing"
)

func TestIDGen(t *testing.T) {
	g := NewIDGen()
	ts := int64(1732358400123456789) // 2024-11-23T10:40:00.123456789Z
	u := g.New(ts)
	if u.Version() != 7 || u.Variant().String() != "RFC4122" {
		t.Fatalf("%s: version %d variant %s", u, u.Version(), u.Variant())
	}
	sec, nsec := u.Time().UnixTime()
	if ms := sec*1000 + nsec/1e6; ms != ts/1e6 {
		t.Fatalf("embedded ms %d, want %d", ms, ts/1e6)
	}
	// Sub-millisecond fraction in rand_a: 456789 ns → floor(456789*4096/1e6).
	if frac := int(u[6]&0x0f)<<8 | int(u[7]); frac != 456789*4096/1000000 {
		t.Fatalf("fraction %d", frac)
	}
	// Strictly increasing even when time repeats or steps back.
	prev := u
	for i, d := range []int64{0, 0, -5e6, 1, 1e6} {
		next := g.New(ts + d)
		if next.String() <= prev.String() {
			t.Fatalf("step %d: %s not after %s", i, next, prev)
		}
		prev = next
	}
	// Random bits differ between generators.
	if NewIDGen().New(ts) == NewIDGen().New(ts) {
		t.Fatal("two generators produced the same ID")
	}
}

func BenchmarkIDGen(b *testing.B) {
	g := NewIDGen()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = g.New(int64(1732358400000000000 + i))
	}
}
