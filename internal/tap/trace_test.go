package tap

import (
	"testing"

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
