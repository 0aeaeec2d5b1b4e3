package xref

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
	"github.com/fixtap/fixtap/internal/xref/xreftest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const (
	firmSession  = "FIX.4.4:TAP->OMS"
	venueSession = "FIX.4.4:TAP->VENUE"
	otherSession = "FIX.4.4:TAP->OTHER"
	base         = int64(1_795_000_000_000_000_000) // capture times start here
)

var testPolicy = chain.PolicyIdentification{Version: "1.1", PolicyID: "urn:test", ConformanceTier: "SILVER",
	RegistrationPolicy: chain.RegistrationPolicy{Issuer: "test"}}

// fakeClock stamps the reconciler's own events.
type fakeClock struct{ n atomic.Int64 }

func (c *fakeClock) Stamp() (int64, chain.ClockSyncStatus, *chain.Clock) {
	return base + 100*int64(time.Second) + c.n.Add(1000), chain.BestEffort, &chain.Clock{Source: "SYSTEM"}
}

func testGroup() Group {
	return Group{Name: "G", LocalRole: chain.RoleInitiator, Local: []string{firmSession}, Counterparty: []string{venueSession},
		ExecKeys: []string{"ExecID", "SecondaryExecID"}, OrderKeys: []string{"ClOrdID", "OrderID"},
		ToleranceMs: 1000, Deadline: 30 * time.Second}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Groups = []Group{testGroup()}
	c.Clock = &fakeClock{}
	c.Policy = testPolicy
	c.Logger = quiet()
	c.Interval = time.Millisecond
	c.MaxRound = 64
	c.SnapshotEvery = 500
	return c
}

// frame makes a FIX 4.4 message of body (fields after the standard header).
func frame(sender string, seq int, possDup bool, msgType string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "35=%s\x0149=%s\x0156=TAP\x0134=%d\x01", msgType, sender, seq)
	if possDup {
		b.WriteString("43=Y\x01122=20261121-14:29:59.000\x01")
	}
	b.WriteString("52=20261121-14:30:00.000\x01")
	b.Write(body)
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "8=FIX.4.4\x019=%d\x01", b.Len())
	msg.Write(b.Bytes())
	var sum uint
	for _, c := range msg.Bytes() {
		sum += uint(c)
	}
	fmt.Fprintf(&msg, "10=%03d\x01", sum%256)
	return msg.Bytes()
}

// tapEvent is one event as the tap would append it.
type tapEvent struct {
	session string
	ts      int64
	raw     []byte
}

var entryIDs = chain.NewIDGen()

func (te tapEvent) entry(t testing.TB) *chain.Entry {
	t.Helper()
	e, err := te.build(entryIDs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// build maps the event as the tap would; ids is used by one goroutine
// at a time.
func (te tapEvent) build(ids *chain.IDGen) (*chain.Entry, error) {
	mc := fixmap.Config{PseudonymizeAccounts: false}
	m, err := mc.MapBytes(te.raw, te.session, fixmap.ParseOptions{})
	if err != nil || m.Type == chain.ERR {
		return nil, fmt.Errorf("map %q: %v %+v", te.raw, err, m.Payload.ErrorDetails)
	}
	code, _ := m.Type.Code()
	trace := ""
	if m.Keys.OrderID != "" {
		trace = "trace-" + m.Keys.OrderID
	}
	h := chain.Header{EventID: ids.New(te.ts).String(), TraceID: trace, TimestampInt: strconv.FormatInt(te.ts, 10),
		TimestampISO: time.Unix(0, te.ts).UTC().Format("2006-01-02T15:04:05.000000000Z"), EventType: m.Type, EventTypeCode: code,
		TimestampPrecision: chain.PrecisionNanosecond, ClockSyncStatus: chain.BestEffort, HashAlgo: chain.HashAlgoSHA256,
		Symbol: m.Symbol, AccountID: m.AccountID}
	p := m.Payload
	p.PolicyIdentification = &testPolicy
	return &chain.Entry{Header: h, Payload: p, Raw: te.raw}, nil
}

// tick is an event of no group (a heartbeat of another session) that moves
// log time.
func tick(ts int64, seq int) tapEvent {
	return tapEvent{session: otherSession, ts: ts, raw: frame("OTHER", seq, false, "0", nil)}
}

// scenario is xreftest's: the firm's and the venue's copies of the same n
// generator messages with one injected fault each, the firm's copy of
// message k captured at base + k ms, the venue's 200 µs later (1.5 s for
// the late one), and a final tick 60 s later so that the deadline passes.
func scenario(t testing.TB, n int) (firm, venue []tapEvent, f xreftest.Faults, end tapEvent) {
	t.Helper()
	fc, vc, f, err := xreftest.Scenario(n, xreftest.Timing{Step: time.Millisecond, VenueLag: 200 * time.Microsecond, Late: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	events := func(cs []xreftest.Copy, session, sender string) []tapEvent {
		out := make([]tapEvent, len(cs))
		for k, c := range cs {
			out[k] = tapEvent{session, base + int64(c.At), frame(sender, k+1, c.PossDup, c.MsgType, c.Body)}
		}
		return out
	}
	end = tick(base+int64(n)*int64(time.Millisecond)+60*int64(time.Second), 1)
	return events(fc, firmSession, "OMS"), events(vc, venueSession, "VENUE"), f, end
}

// merge interleaves a and b by capture time (as one tap would log them).
func merge(a, b []tapEvent) []tapEvent {
	out := make([]tapEvent, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || (i < len(a) && a[i].ts <= b[j].ts) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

func openLog(t testing.TB, dir string) *chain.Log {
	t.Helper()
	cfg := chain.DefaultConfig(dir)
	cfg.Logger = quiet()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func appendAll(t testing.TB, l *chain.Log, evs []tapEvent) {
	t.Helper()
	for _, te := range evs {
		if err := l.Append(context.Background(), te.entry(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// caughtUp waits until r has read every durable record and the outcomes
// it appended are durable too.
func caughtUp(t testing.TB, l *chain.Log, r *Reconciler) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := l.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r.Watermark() == l.Durable() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconciler at %d, log at %d", r.Watermark(), l.Durable())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// outcome is an XREF event's block without what differs between runs
// (CrossReferenceID), as a comparable string.
type outcome struct {
	x   chain.XRef
	sig string
}

// outcomes reads every XREF event of the log.
func outcomes(t testing.TB, l *chain.Log) []outcome {
	t.Helper()
	var out []outcome
	err := l.Range(0, l.Durable(), func(r *chain.Record) error {
		if !bytes.Contains(r.Payload, []byte(`"VCP-XREF"`)) {
			return nil
		}
		var p struct {
			X chain.XRef `json:"VCP-XREF"`
		}
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return err
		}
		x := p.X
		x.CrossReferenceID = ""
		b, _ := json.Marshal(x)
		out = append(out, outcome{x: p.X, sig: string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sigOf(x *chain.XRef) string {
	c := *x
	c.CrossReferenceID = ""
	b, _ := json.Marshal(&c)
	return string(b)
}
