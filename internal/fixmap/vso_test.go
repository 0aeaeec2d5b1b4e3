package fixmap

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

// vsoMessage is one line of testdata/vso/fix_messages.jsonl.
type vsoMessage struct {
	Seq       int             `json:"seq"`
	Direction string          `json:"direction"`
	Raw       string          `json:"raw"`
	Type      chain.EventType `json:"vcp_event_type"`
}

func loadVSO(t testing.TB) []vsoMessage {
	t.Helper()
	f, err := os.Open("testdata/vso/fix_messages.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vsoMessage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m vsoMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 18 {
		t.Fatalf("%d VSO messages, want 18", len(out))
	}
	return out
}

// TestVSOReference maps the 18 messages of the VSO FIX sidecar PoC and
// asserts fixtap's type for each (profile §4), beside the type the PoC
// assigned. Differences are explained in docs/fix-mapping.md.
func TestVSOReference(t *testing.T) {
	// Ours, by seq. Where ours differs from the PoC, the profile wins.
	want := map[int]struct {
		typ   chain.EventType
		stage string
	}{
		1: {chain.ORD, ""}, 2: {chain.ACK, ""}, 3: {chain.EXE, ""},
		4: {chain.ORD, ""}, 5: {chain.ACK, ""}, 6: {chain.EXE, ""},
		7: {chain.ORD, ""}, 8: {chain.ACK, ""}, 9: {chain.MOD, StageRequest},
		10: {chain.MOD, ""}, 11: {chain.EXE, ""}, 12: {chain.ORD, ""},
		13: {chain.REJ, ""}, 14: {chain.ORD, ""}, 15: {chain.ACK, ""},
		16: {chain.PRT, ""}, 17: {chain.CXL, StageRequest}, 18: {chain.CXL, ""},
	}
	cfg := testConfig()
	for _, v := range loadVSO(t) {
		raw := fromPipe([]byte(v.Raw))
		if _, err := Parse(raw); err == nil {
			t.Errorf("seq %d: strict Parse accepted a message whose trailer is known to be invalid", v.Seq)
		}
		m, err := ParseWith(raw, ParseOptions{Lenient: true})
		if err != nil {
			t.Fatalf("seq %d: %v", v.Seq, err)
		}
		got, err := cfg.Map(m, raw, "FIX.4.4:CLIENT->BROKER")
		if err != nil {
			t.Fatalf("seq %d: %v", v.Seq, err)
		}
		w := want[v.Seq]
		if got.Type != w.typ {
			t.Errorf("seq %d (%s): type %s, want %s (PoC assigned %s)", v.Seq, v.Direction, got.Type, w.typ, v.Type)
		}
		if w.stage != "" && (got.Payload.Trade == nil || got.Payload.Trade.Stage != w.stage) {
			t.Errorf("seq %d: Stage %+v, want %s", v.Seq, got.Payload.Trade, w.stage)
		}
		if got.Type != v.Type {
			t.Logf("seq %d: fixtap %s, PoC %s (see docs/fix-mapping.md)", v.Seq, got.Type, v.Type)
		}
	}
}
