package fixmap

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// buildFIX returns a wire message with BeginString begin and the given
// "tag=value" body fields (starting with 35=...), framed with a correct
// BodyLength (9) and CheckSum (10).
func buildFIX(begin string, fields ...string) []byte {
	var body bytes.Buffer
	for _, f := range fields {
		body.WriteString(f)
		body.WriteByte(SOH)
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "8=%s\x019=%d\x01", begin, body.Len())
	msg.Write(body.Bytes())
	var sum uint
	for _, b := range msg.Bytes() {
		sum += uint(b)
	}
	fmt.Fprintf(&msg, "10=%03d\x01", sum%256)
	return msg.Bytes()
}

// toPipe and fromPipe convert between wire SOH and the '|' of test files.
func toPipe(raw []byte) []byte   { return bytes.ReplaceAll(raw, []byte{SOH}, []byte("|")) }
func fromPipe(txt []byte) []byte { return bytes.ReplaceAll(txt, []byte("|"), []byte{SOH}) }

// testConfig pseudonymizes with a fixed test secret.
func testConfig() Config {
	c := DefaultConfig()
	c.VenueID = "XTST"
	c.AccountSecret = []byte("fixtap-golden-test-secret-0001")
	return c
}

const testSession = "FIX.4.4:TAP->VENUE"

// hdr returns the body's standard header fields after 8 and 9.
func hdr(msgType string, seq int, extra ...string) []string {
	f := []string{"35=" + msgType, "49=VENUE", "56=TAP", fmt.Sprintf("34=%d", seq), "52=20250106-08:15:23.456"}
	return append(f, extra...)
}

// mustParse parses raw strictly or fails the test.
func mustParse(t testing.TB, raw []byte) *Message {
	t.Helper()
	m, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", toPipe(raw), err)
	}
	return m
}

func TestBuildFIX(t *testing.T) {
	// The FIX 4.4 specification's Logon example layout, checked by hand:
	// body "35=A|34=1|49=S|56=T|52=x|98=0|108=30|" is 37 bytes.
	raw := buildFIX("FIX.4.4", "35=A", "34=1", "49=S", "56=T", "52=x", "98=0", "108=30")
	if !strings.Contains(string(toPipe(raw)), "|9=37|") {
		t.Fatalf("BodyLength: %s", toPipe(raw))
	}
	mustParse(t, raw)
}
