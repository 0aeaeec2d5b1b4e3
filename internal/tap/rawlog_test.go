package tap

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// frame builds a FIX 4.4 message from "tag=value|…" body fields with a
// correct BodyLength and CheckSum (corrupt=true breaks the CheckSum).
func frame(fields string, corrupt bool) []byte {
	body := strings.ReplaceAll(fields+"|", "|", "\x01")
	head := fmt.Sprintf("8=FIX.4.4\x019=%d\x01", len(body))
	sum := 0
	for _, c := range []byte(head + body) {
		sum += int(c)
	}
	if corrupt {
		sum++
	}
	return []byte(fmt.Sprintf("%s%s10=%03d\x01", head, body, sum%256))
}

func sendingTime() string { return time.Now().UTC().Format("20060102-15:04:05.000") }

// TestNothingSilentlyDropped: a raw client sends what a sloppy counterparty
// might; every message the engine does not hand to the tap still becomes an
// event carrying its exact bytes.
func TestNothingSilentlyDropped(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	h := startTap(t, dir, port)
	defer h.stop(t)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hdr := func(seq int) string {
		return fmt.Sprintf("35=%%s|34=%d|49=BROKER|56=TAP|52=%s", seq, sendingTime())
	}
	send := func(b []byte) {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	send(frame(fmt.Sprintf(hdr(1), "A")+"|98=0|108=30", false))
	// Wait for the tap's Logon reply.
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\x01'); err != nil {
		t.Fatalf("no logon reply: %v", err)
	}
	good := frame(fmt.Sprintf(hdr(2), "8")+"|37=O1|11=C1|17=E1|150=0|39=0|55=AAPL|54=1|38=100|151=100|14=0", false)
	bad := frame(fmt.Sprintf(hdr(3), "8")+"|37=O1|11=C1|17=E2|150=F|39=2|55=AAPL|54=1|38=100|31=1.5|32=100|151=0|14=100", true)
	noCompID := frame(fmt.Sprintf("35=8|34=3|56=TAP|52=%s|37=O1|11=C1|17=E3|150=F|39=2|55=AAPL|54=1|38=100|31=1.5|32=100|151=0|14=100", sendingTime()), false)
	send(good)
	send(bad)
	send(noCompID)
	// A message the engine accepts after them, so the earlier ones settle.
	send(frame(fmt.Sprintf(hdr(3), "0"), false))

	want := map[string][]byte{"corrupt checksum": bad, "missing SenderCompID": noCompID}
	es := waitEvents(t, h.log, func(es []*chain.Event) bool {
		n := 0
		for _, e := range es {
			if e.Payload.FIX != nil && e.Payload.FIX.MsgType == "0" {
				n++
			}
		}
		return n > 0
	})
	have := map[string]*chain.Event{}
	for _, e := range es {
		if e.Payload.FIX != nil {
			have[e.Payload.FIX.RawSHA256] = e
		}
	}
	for name, raw := range want {
		sum := sha256.Sum256(raw)
		e := have[hex.EncodeToString(sum[:])]
		if e == nil {
			t.Errorf("%s: no event carries its bytes", name)
			continue
		}
		if e.Header.EventType != chain.ERR {
			t.Errorf("%s: recorded as %s, want ERR", name, e.Header.EventType)
		}
		t.Logf("%s → %s %s: %s", name, e.Header.EventType, e.Payload.ErrorDetails.ErrorCode, e.Payload.ErrorDetails.ErrorMessage)
	}
}
