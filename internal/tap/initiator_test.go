package tap

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
)

// venue is a quickfixgo acceptor playing a venue's drop-copy service: the
// consumer (the tap) connects to it, and once logged on it sends n
// execution reports.
type venue struct {
	n        int
	loggedOn chan quickfix.SessionID
}

func (v *venue) OnCreate(quickfix.SessionID)                   {}
func (v *venue) OnLogon(id quickfix.SessionID)                 { v.loggedOn <- id }
func (v *venue) OnLogout(quickfix.SessionID)                   {}
func (v *venue) ToAdmin(*quickfix.Message, quickfix.SessionID) {}
func (v *venue) ToApp(*quickfix.Message, quickfix.SessionID) error {
	return nil
}
func (v *venue) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}
func (v *venue) FromApp(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}

// TestInitiatorSession: the tap as initiator (venue drop-copy services
// expect the consumer to connect) logs on to a venue acceptor and records
// every message the venue sends.
func TestInitiatorSession(t *testing.T) {
	port := freePort(t)
	v := &venue{loggedOn: make(chan quickfix.SessionID, 2)}
	acc, err := quickfix.NewAcceptor(v, quickfix.NewMemoryStoreFactory(), settings(t, fmt.Sprintf(`
[DEFAULT]
SocketAcceptPort=%d
SocketAcceptHost=127.0.0.1
SenderCompID=VENUE
TargetCompID=TAP
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00
[SESSION]
BeginString=FIX.4.4
`, port)), quickfix.NewNullLogFactory())
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Start(); err != nil {
		t.Fatal(err)
	}
	defer acc.Stop()

	l, tp := newTestTap(t, t.TempDir())
	defer l.Close()
	defer tp.Close()
	ini, err := quickfix.NewInitiator(tp, tp.Stores(), settings(t, fmt.Sprintf(`
[DEFAULT]
SocketConnectHost=127.0.0.1
SocketConnectPort=%d
SenderCompID=TAP
TargetCompID=VENUE
HeartBtInt=30
ReconnectInterval=1
StartTime=00:00:00
EndTime=00:00:00
PersistMessages=N
[SESSION]
BeginString=FIX.4.4
`, port)), tp.Logs())
	if err != nil {
		t.Fatal(err)
	}
	if err := ini.Start(); err != nil {
		t.Fatal(err)
	}
	defer ini.Stop()
	var id quickfix.SessionID
	select {
	case id = <-v.loggedOn:
	case <-time.After(10 * time.Second):
		t.Fatal("the tap never logged on to the venue")
	}
	const n = 200
	for i := range n {
		if err := quickfix.SendToTarget(execReport(i), id); err != nil {
			t.Fatal(err)
		}
	}
	es := waitEvents(t, l, func(es []*chain.Event) bool {
		k := 0
		for _, e := range es {
			if f := e.Payload.FIX; f != nil && f.MsgType == "8" {
				k++
			}
		}
		return k == n
	})
	for _, e := range es {
		if f := e.Payload.FIX; f != nil && !strings.HasPrefix(f.SessionID, "FIX.4.4:TAP->VENUE") {
			t.Fatalf("event of session %q", f.SessionID)
		}
	}
}
