package main

// TestXRefKill9: issue 9's scenario over FIX into a real `fixtap run`
// (the built binary) with one reconciliation group — the firm's OMS copy
// (INITIATOR) and the venue's drop copy (COUNTERPARTY) of the same orders,
// with xreftest's injected faults — run twice: once without interruption,
// SIGTERMed as soon as the senders are done (so that the reconciler's
// catch-up at shutdown, before the final checkpoint, is what completes
// it), and once SIGKILLed mid-scenario several times and once more after
// the senders are done, restarted each time while the two loadgen senders
// reconnect and resend what the tap asks for. Both runs give exactly the
// scenario's outcomes, the same multiset of them (status, keys, details),
// none twice, each naming events of the right sessions, and the final
// checkpoint (cut after the reconciler stopped) covers every event, the
// outcomes included.
//
// Re-run: go test -run TestXRefKill9 -v ./cmd/fixtap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/xref/xreftest"
)

// The scenario's timing over FIX. A copy recorded just before a kill and
// its other side resent after the restart are captured a restart apart:
// the tolerance must exceed that (a restart measures well under 1 s
// here), the late copy's lag must exceed the tolerance plus a restart,
// and the deadline the late lag plus a restart.
const (
	xkMessages  = 2000
	xkStep      = 5 * time.Millisecond
	xkTolerance = 4 * time.Second
	xkLate      = 8 * time.Second
	xkDeadline  = 12 * time.Second
)

func TestXRefKill9(t *testing.T) {
	kills := 3
	if testing.Short() {
		kills = 1
	}
	bin := buildFixtap(t)
	fc, vc, faults, err := xreftest.Scenario(xkMessages, xreftest.Timing{Step: xkStep, VenueLag: 0, Late: xkLate})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("faults (generator message indexes): %+v", faults)
	var ends []time.Duration // the end tick: after the venue-only fill's deadline and the last copy
	for _, c := range slices.Concat(fc, vc) {
		if c.Index == faults.VenueOnly {
			ends = append(ends, c.At+xkDeadline)
		}
		ends = append(ends, c.At)
	}
	end := slices.Max(ends) + 2*time.Second
	firm, venue := xkMessagesOf(fc, end), xkMessagesOf(vc, end)
	expect := xreftest.Expect{Local: "FIX.4.4:TAP->OMS", Counterparty: "FIX.4.4:TAP->VENUE",
		ToleranceMs: xkTolerance.Milliseconds(), DeadlineMs: xkDeadline.Milliseconds(), VenueCopies: len(vc)}

	clean := xkRun(t, bin, firm, venue, expect, 0)
	killed := xkRun(t, bin, firm, venue, expect, kills)
	a, b := xkNormal(clean), xkNormal(killed)
	if !slices.Equal(a, b) {
		for i := range max(len(a), len(b)) {
			if i >= len(a) || i >= len(b) || a[i] != b[i] {
				t.Logf("first difference at %d:\n uninterrupted %s\n killed        %s", i, at(a, i), at(b, i))
				break
			}
		}
		t.Fatalf("the outcomes differ: %d uninterrupted, %d with %d kills", len(a), len(b), kills)
	}
	t.Logf("%d outcomes, the same multiset with and without %d kills", len(a), kills+1)
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// xkMessagesOf turns one side's copies into loadgen messages, with a News
// (35=B, no group's concern) at end to move log time past the deadline.
func xkMessagesOf(cs []xreftest.Copy, end time.Duration) []loadgen.Message {
	ms := make([]loadgen.Message, 0, len(cs)+1)
	for _, c := range cs {
		ms = append(ms, loadgen.Message{MsgType: c.MsgType, Body: c.Body, PossDup: c.PossDup, At: c.At})
	}
	return append(ms, loadgen.Message{MsgType: "B", Body: []byte("148=end of scenario\x01"), At: end})
}

func xkNormal(xs []chain.XRef) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = xreftest.Normal(x)
	}
	slices.Sort(out)
	return out
}

// xkConfig writes a session file: one acceptor port, the firm's session
// (OMS, INITIATOR) and the venue's (VENUE, COUNTERPARTY) in group G.
func xkConfig(t *testing.T, dir string, port, metricsPort int) string {
	t.Helper()
	cfg := writeConfig(t, dir, port)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=TAP\nTargetCompID=BROKER\n", fmt.Sprintf(`XRefToleranceMs=%d
XRefDeadline=%s
MetricsAddress=127.0.0.1:%d

[SESSION]
BeginString=FIX.4.4
SenderCompID=TAP
TargetCompID=OMS
XRefGroup=G
XRefRole=INITIATOR

[SESSION]
BeginString=FIX.4.4
SenderCompID=TAP
TargetCompID=VENUE
XRefGroup=G
XRefRole=COUNTERPARTY
`, xkTolerance.Milliseconds(), xkDeadline, metricsPort), 1)
	if s == string(b) {
		t.Fatalf("writeConfig's session section changed:\n%s", b)
	}
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// xkRun runs the scenario into a fresh tap, SIGKILLing it kills times
// while the senders stream and once more after they are done when kills
// > 0, then stops it with SIGTERM and returns the XREF outcomes it
// logged, checked against the scenario and the log.
func xkRun(t *testing.T, bin string, firm, venue []loadgen.Message, expect xreftest.Expect, kills int) []chain.XRef {
	dir := t.TempDir()
	port, metricsPort := freePort(t), freePort(t)
	cfgPath := xkConfig(t, dir, port, metricsPort)
	f, err := tapconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ns := listenNotify(t)
	var stderr syncBuffer
	var child *exec.Cmd
	start := func() time.Duration {
		t0 := clock.Wall()
		stderr = syncBuffer{}
		child = exec.Command(bin, "run", "-config", cfgPath)
		child.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path)
		child.Stderr = &stderr
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		ns.await(t, "READY=1", 30*time.Second, stderr.String)
		return clock.Wall().Sub(t0)
	}
	t.Cleanup(func() {
		if child != nil && child.ProcessState == nil {
			child.Process.Kill()
			child.Wait()
		}
	})
	kill := func(when string) {
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s: %v", when, err)
		}
		child.Wait()
		if ws := child.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
			t.Fatalf("kill %s: the tap exited by itself (%v):\n%s", when, child.ProcessState, stderr.String())
		}
		t.Logf("SIGKILL %s; restarted and ready in %v", when, start().Round(time.Millisecond))
	}
	start()

	t0 := clock.Wall().Add(200 * time.Millisecond) // both senders' schedule
	type result struct {
		who string
		st  loadgen.Stats
		err error
	}
	sent := make(chan result, 2)
	for _, s := range []struct {
		who  string
		msgs []loadgen.Message
	}{{"OMS", firm}, {"VENUE", venue}} {
		go func() {
			st, err := loadgen.Run(context.Background(), loadgen.Config{
				Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4", SenderCompID: s.who, TargetCompID: "TAP",
				ResetSeqNum: true, Now: clock.Wall, Messages: s.msgs, Start: t0,
				Reconnect: true, ReconnectTimeout: 30 * time.Second, ReconnectDelay: 50 * time.Millisecond,
			})
			sent <- result{s.who, st, err}
		}()
	}
	// Kills spread over the stream (the last copies are due at end −
	// 2 s); the senders keep to their schedule and catch up after each.
	streamEnd := firm[len(firm)-2].At
	rng := rand.New(rand.NewPCG(uint64(clock.Wall().UnixNano()), 9))
	for k := range kills {
		due := time.Duration(k+1) * streamEnd / time.Duration(kills+1)
		due += time.Duration(rng.Int64N(int64(streamEnd / time.Duration(4*(kills+1)))))
		time.Sleep(time.Until(t0.Add(due)))
		kill(fmt.Sprintf("%d at +%v", k+1, due.Round(time.Millisecond)))
	}
	for range 2 {
		select {
		case r := <-sent:
			if r.err != nil {
				t.Fatalf("sender %s: %v (stats %+v)\ntap stderr:\n%s", r.who, r.err, r.st, stderr.String())
			}
			t.Logf("sender %s: %+v", r.who, r.st)
		case <-time.After(3 * time.Minute):
			t.Fatal("the senders did not finish")
		}
	}
	if kills > 0 {
		kill("after the senders finished")
	} else if mf := scrapeText(t, metricsPort); !strings.Contains(mf, "fixtap_xref_outcomes_total{status=\"MATCHED\"}") {
		t.Errorf("no reconciler metrics:\n%s", mf)
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, child, 30*time.Second, stderr.String)
	// Shutdown order: the reconciler catches up and stops before the
	// final checkpoint is cut, so that it covers the last outcomes.
	stopped, final := strings.Index(stderr.String(), `"msg":"reconciler stopped"`), strings.Index(stderr.String(), `"msg":"final checkpoint"`)
	if stopped < 0 || final < 0 || stopped > final {
		t.Errorf("want the reconciler stopped, then the final checkpoint:\n%s", stderr.String())
	}
	return xkOutcomes(t, f, expect)
}

func scrapeText(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// xkOutcomes reads the tap's log: the XREF outcomes, checked against the
// scenario (xreftest.Check), for events of the right sessions named at
// most once per status, and the final checkpoint covering every event.
func xkOutcomes(t *testing.T, f *tapconfig.File, expect xreftest.Expect) []chain.XRef {
	t.Helper()
	r, err := openReader(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := r.log
	cp, err := r.seal.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != l.Durable() {
		t.Errorf("the final checkpoint covers %d events; the log holds %d", cp.Size, l.Durable())
	}
	session := map[string]string{} // EventID → session, of the FIX events
	var xs []chain.XRef
	var lastXRef uint64
	err = l.Range(0, l.Durable(), func(r *chain.Record) error {
		if bytes.Contains(r.Payload, []byte(`"VCP-XREF"`)) {
			var p struct {
				X chain.XRef `json:"VCP-XREF"`
			}
			if err := json.Unmarshal(r.Payload, &p); err != nil {
				return err
			}
			xs, lastXRef = append(xs, p.X), r.Seq
			return nil
		}
		e, err := r.Event()
		if err != nil {
			return err
		}
		if e.Payload.FIX != nil {
			session[e.Header.EventID] = e.Payload.FIX.SessionID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := xreftest.Check(xs, expect); err != nil {
		t.Fatalf("outcomes:\n%v", err)
	}
	named := map[string]bool{}
	for _, x := range xs {
		k := x.ReconciliationStatus + " " + x.LocalEventID + " " + x.CounterpartyEventID + " " + x.RepeatsEventID
		if named[k] {
			t.Errorf("an outcome twice: %+v", x)
		}
		named[k] = true
		for _, id := range []struct{ id, want string }{{x.LocalEventID, expect.Local}, {x.RepeatsEventID, expect.Local}, {x.CounterpartyEventID, expect.Counterparty}} {
			if id.id != "" && session[id.id] != id.want {
				t.Errorf("outcome %s names %s, an event of %q, want one of %s", x.ReconciliationStatus, id.id, session[id.id], id.want)
			}
		}
	}
	t.Logf("log of %d events, final checkpoint %d, %d outcomes, the last at seq %d", l.Durable(), cp.Size, len(xs), lastXRef)
	return xs
}
