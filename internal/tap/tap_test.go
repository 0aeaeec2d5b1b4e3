package tap

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
)

// testClock is the tap's clock in tests: the wall time, honestly marked
// UNRELIABLE (nothing measured it).
type testClock struct{}

func (testClock) Stamp() (int64, chain.ClockSyncStatus, *chain.Clock) {
	return time.Now().UnixNano(), chain.Unreliable, &chain.Clock{Source: "SYSTEM", MaxErrorNs: ""}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func settings(t *testing.T, text string) *quickfix.Settings {
	s, err := quickfix.ParseSettings(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// harness is a tap acceptor over a real chain log in dir.
type harness struct {
	log *chain.Log
	tap *Tap
	acc *quickfix.Acceptor
}

func startTap(t *testing.T, dir string, port int) *harness {
	t.Helper()
	return startTapSession(t, dir, port, "BeginString=FIX.4.4")
}

// startTapSession is startTap with the [SESSION] block's own lines.
func startTapSession(t *testing.T, dir string, port int, session string) *harness {
	t.Helper()
	return startTapWith(t, dir, port, "", session)
}

// newTestTap opens a chain log in dir (re-checked in full on open) and a
// tap over it with the test clock.
func newTestTap(t *testing.T, dir string) (*chain.Log, *Tap) {
	t.Helper()
	cfg := chain.DefaultConfig(dir)
	cfg.Logger = quiet()
	cfg.TailCheck = -1
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc := fixmap.DefaultConfig()
	mc.AccountSecret = []byte("0123456789abcdef0123")
	tp, err := New(Config{Log: l, Clock: testClock{}, Mapper: mc, VenueID: "XTST", Logger: quiet(),
		Policy: chain.PolicyIdentification{Version: "1.1", PolicyID: "test", ConformanceTier: "SILVER",
			RegistrationPolicy: chain.RegistrationPolicy{Issuer: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	return l, tp
}

// startTapWith adds lines to [DEFAULT] too (quickfixgo reads an acceptor's
// TLS settings from there, once for all its sessions).
func startTapWith(t *testing.T, dir string, port int, defaults, session string) *harness {
	t.Helper()
	l, tp := newTestTap(t, dir)
	acc, err := quickfix.NewAcceptor(tp, tp.Stores(), settings(t, fmt.Sprintf(`
[DEFAULT]
SocketAcceptPort=%d
SocketAcceptHost=127.0.0.1
SenderCompID=TAP
TargetCompID=BROKER
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00
ResetOnLogon=N
ResetOnLogout=N
ResetOnDisconnect=N
PersistMessages=N
ValidateFieldsHaveValues=N
ValidateFieldsOutOfOrder=N
CheckLatency=N
UseDataDictionary=N
%s
[SESSION]
%s
`, port, defaults, session)), tp.Logs())
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Start(); err != nil {
		t.Fatal(err)
	}
	return &harness{log: l, tap: tp, acc: acc}
}

func (h *harness) stop(t *testing.T) {
	h.acc.Stop()
	h.tap.Close()
	if err := h.log.Close(); err != nil {
		t.Fatal(err)
	}
}

// sender is a quickfixgo initiator playing the broker's drop copy.
type sender struct {
	mu       sync.Mutex
	loggedOn chan quickfix.SessionID
	out      []string // MsgTypes the tap sent us
}

func (s *sender) OnCreate(quickfix.SessionID)                       {}
func (s *sender) OnLogon(id quickfix.SessionID)                     { s.loggedOn <- id }
func (s *sender) OnLogout(quickfix.SessionID)                       {}
func (s *sender) ToAdmin(*quickfix.Message, quickfix.SessionID)     {}
func (s *sender) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }
func (s *sender) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	s.note(m)
	return nil
}
func (s *sender) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	s.note(m)
	return nil
}
func (s *sender) note(m *quickfix.Message) {
	mt, _ := m.MsgType()
	s.mu.Lock()
	s.out = append(s.out, mt)
	s.mu.Unlock()
}

func startSender(t *testing.T, port int) (*quickfix.Initiator, *sender, quickfix.SessionID) {
	t.Helper()
	app := &sender{loggedOn: make(chan quickfix.SessionID, 4)}
	ini, err := quickfix.NewInitiator(app, quickfix.NewMemoryStoreFactory(), settings(t, fmt.Sprintf(`
[DEFAULT]
SocketConnectHost=127.0.0.1
SocketConnectPort=%d
SenderCompID=BROKER
TargetCompID=TAP
HeartBtInt=30
ReconnectInterval=1
StartTime=00:00:00
EndTime=00:00:00
[SESSION]
BeginString=FIX.4.4
`, port)), quickfix.NewNullLogFactory())
	if err != nil {
		t.Fatal(err)
	}
	if err := ini.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-app.loggedOn:
		return ini, app, id
	case <-time.After(10 * time.Second):
		t.Fatal("sender never logged on")
	}
	return nil, nil, quickfix.SessionID{}
}

func execReport(i int) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(35, "8")
	m.Body.SetString(37, fmt.Sprintf("ORD-%d", i/3))
	m.Body.SetString(11, fmt.Sprintf("CL-%d", i/3))
	m.Body.SetString(17, fmt.Sprintf("EX-%d", i))
	m.Body.SetString(150, "F")
	m.Body.SetString(39, "1")
	m.Body.SetString(55, "AAPL")
	m.Body.SetString(54, "1")
	m.Body.SetString(38, "300")
	m.Body.SetString(31, "123.45")
	m.Body.SetString(32, "100")
	m.Body.SetString(14, fmt.Sprint(100*(i%3+1)))
	m.Body.SetString(151, fmt.Sprint(300-100*(i%3+1)))
	m.Body.SetString(1, "ACCT-7")
	return m
}

// events reads every durable event of the log.
func events(t *testing.T, l *chain.Log) []*chain.Event {
	t.Helper()
	var out []*chain.Event
	if err := l.Range(0, l.Durable(), func(r *chain.Record) error {
		if err := r.Check(); err != nil {
			return err
		}
		e, err := r.Event()
		out = append(out, e)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func waitEvents(t *testing.T, l *chain.Log, pred func([]*chain.Event) bool) []*chain.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		es := events(t, l)
		if pred(es) {
			return es
		}
		if time.Now().After(deadline) {
			for i, e := range es[:min(len(es), 5)] {
				t.Logf("%d %s %+v %+v", i, e.Header.EventType, e.Payload.FIX, e.Payload.ErrorDetails)
			}
			t.Fatalf("timed out; %d events", len(es))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inbound returns the MsgSeqNums of inbound-message events per epoch.
func inbound(es []*chain.Event) map[int64][]int64 {
	out := map[int64][]int64{}
	for _, e := range es {
		if f := e.Payload.FIX; f != nil && f.MsgType != "" {
			out[f.Epoch] = append(out[f.Epoch], f.MsgSeqNum)
		}
	}
	return out
}

// TestSessionEndToEnd: a real quickfixgo initiator sends execution reports
// to the tap; every inbound MsgSeqNum becomes exactly one event, the tap sends
// only session-level messages, and after a restart the session resumes where
// the durable log says it was.
func TestSessionEndToEnd(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	h := startTap(t, dir, port)
	ini, app, id := startSender(t, port)
	const n = 200
	for i := range n {
		if err := quickfix.SendToTarget(execReport(i), id); err != nil {
			t.Fatal(err)
		}
	}
	es := waitEvents(t, h.log, func(es []*chain.Event) bool { return len(inbound(es)[0]) >= n+1 })
	seqs := inbound(es)[0]
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("inbound MsgSeqNums %v…: position %d holds %d", seqs[:min(len(seqs), 10)], i, s)
		}
	}
	var prt, exe int
	for _, e := range es {
		switch e.Header.EventType {
		case chain.PRT:
			prt++
		case chain.EXE:
			exe++
		}
		if e.Header.EventType == chain.PRT || e.Header.EventType == chain.EXE {
			if e.Header.TraceID == "" || !strings.HasPrefix(e.Header.AccountID, "acc_") {
				t.Fatalf("order event without TraceID or pseudonymized account: %+v", e.Header)
			}
		}
	}
	if prt+exe != n {
		t.Fatalf("%d PRT + %d EXE, want %d", prt, exe, n)
	}
	// Restart the tap under the connected sender: it reconnects and resumes
	// its own sequence numbers against what the tap's log holds.
	h.stop(t)
	app.mu.Lock()
	for _, mt := range app.out {
		if !strings.Contains("A012345", mt) || len(mt) != 1 {
			t.Fatalf("the tap sent MsgType %q", mt)
		}
	}
	app.mu.Unlock()
	h = startTap(t, dir, port)
	defer h.stop(t)
	defer ini.Stop()
	select {
	case <-app.loggedOn:
	case <-time.After(15 * time.Second):
		t.Fatal("sender never logged on again")
	}
	for i := n; i < n+50; i++ {
		if err := quickfix.SendToTarget(execReport(i), id); err != nil {
			t.Fatal(err)
		}
	}
	es = waitEvents(t, h.log, func(es []*chain.Event) bool {
		ers := 0
		for _, e := range es {
			if e.Payload.FIX != nil && e.Payload.FIX.MsgType == "8" {
				ers++
			}
		}
		return ers == n+50
	})

	seqs = inbound(es)[0]
	seen := map[int64]int{}
	for _, s := range seqs {
		seen[s]++
	}
	for s := int64(1); s <= seqs[len(seqs)-1]; s++ {
		if seen[s] != 1 {
			t.Fatalf("MsgSeqNum %d logged %d times (want exactly once); seqs %v", s, seen[s], seqs[len(seqs)-10:])
		}
	}
}

// TestClockEvents: a clock snapshot becomes an SNC event with its evidence,
// a degradation also an ERR_SYNC.
func TestClockEvents(t *testing.T) {
	h := startTap(t, t.TempDir(), freePort(t))
	defer h.stop(t)
	type evidence struct {
		Status     string `json:"Status"`
		MaxErrorNs string `json:"MaxErrorNs"`
	}
	h.tap.ClockEvent(chain.NTPSynced, "", false, evidence{"NTP_SYNCED", "250000"}, "first snapshot")
	h.tap.ClockEvent(chain.Unreliable, chain.NTPSynced, true, evidence{"UNRELIABLE", ""}, "no selected source")
	es := waitEvents(t, h.log, func(es []*chain.Event) bool { return len(es) == 3 })
	if es[0].Header.EventType != chain.SNC || es[1].Header.EventType != chain.SNC || es[2].Header.EventType != chain.ERR ||
		es[2].Payload.ErrorDetails.ErrorCode != "ERR_SYNC" {
		t.Fatalf("events %s %s %s", es[0].Header.EventType, es[1].Header.EventType, es[2].Header.EventType)
	}
	if ev, ok := es[1].Payload.ClockEvidence.(map[string]any); !ok || ev["Status"] != "UNRELIABLE" {
		t.Fatalf("SNC evidence %#v", es[1].Payload.ClockEvidence)
	}
}
