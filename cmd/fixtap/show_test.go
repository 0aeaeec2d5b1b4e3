package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/inspect"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/snapshot"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/verify"
)

// shown is one line of `show -json` / `query -json`.
type shown struct {
	Seq   uint64
	Event json.RawMessage
	Raw   []byte
	// Status as inspect spells it.
	Status inspect.Status
}

// bundleEvent is what the tests read of a bundle's events.jsonl line.
type bundleEvent struct {
	Header  chain.Header
	Payload chain.Payload
}

// runOut runs fixtap with args and returns its stdout.
func runOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	if err != nil {
		err = fmt.Errorf("%w (stderr %q)", err, errb.String())
	}
	return out.String(), err
}

func parseLines(t *testing.T, out string) []shown {
	t.Helper()
	var s []shown
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var x shown
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		s = append(s, x)
	}
	return s
}

// TestShowQuery reads the demo's data dir (the tap stopped) with show and
// query and checks each answer against the full bundle exported from it.
func TestShowQuery(t *testing.T) {
	dir, full, _ := demoBundles(t)
	cfg := filepath.Join(dir, "demo.cfg")
	raw, err := os.ReadFile(filepath.Join(full, verify.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	evs := make([]bundleEvent, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal(l, &evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	n := uint64(len(evs))

	// show: by seq and by EventID, text and JSON; the JSON event is the
	// bundle's line byte for byte.
	for _, seq := range []uint64{0, 7, n / 2, n - 1} {
		id := evs[seq].Header.EventID
		byID, err := runOut(t, "show", "-config", cfg, id)
		if err != nil {
			t.Fatal(err)
		}
		bySeq, err := runOut(t, "show", strconv.FormatUint(seq, 10), "-config", cfg)
		if err != nil {
			t.Fatal(err)
		}
		if byID != bySeq {
			t.Errorf("show %s and show %d differ:\n%s\n%s", id, seq, byID, bySeq)
		}
		for _, want := range []string{
			fmt.Sprintf(`(?m)^seq +%d \(of %d events in the log\)$`, seq, n), `(?m)^EventID +` + id + `$`,
			`(?m)^EventType +` + string(evs[seq].Header.EventType) + ` `, `(?m)^captured +` + regexp.QuoteMeta(evs[seq].Header.TimestampISO),
			`verifies with the configured key`, `(?m)^sealed +yes: first in checkpoint`, `\(recomputed from Header, Payload and PrevHash: matches\)`,
		} {
			if !regexp.MustCompile(want).MatchString(byID) {
				t.Errorf("show %d lacks %s:\n%s", seq, want, byID)
			}
		}
		js, err := runOut(t, "show", "-config", cfg, "-json", id)
		if err != nil {
			t.Fatal(err)
		}
		s := parseLines(t, js)
		if len(s) != 1 || s[0].Seq != seq || !bytes.Equal(s[0].Event, lines[seq]) {
			t.Errorf("show -json %d:\n%s\nbundle line:\n%s", seq, js, lines[seq])
		}
		st := s[0].Status
		if !st.HashOK || !st.LinkOK || st.Signature != inspect.SigValid || !st.Sealed || st.TreeSize != n ||
			st.Anchored != (seq < st.AnchoredSize) || st.AnchoredSize == 0 {
			t.Errorf("show -json %d: status %+v", seq, st)
		}
		if f := evs[seq].Payload.FIX; f != nil && f.MsgType == "8" {
			if !regexp.MustCompile(`(?m)^raw +8=FIX`).MatchString(byID) || !strings.Contains(byID, "|35=8|") || len(s[0].Raw) == 0 {
				t.Errorf("show %d: raw message missing:\n%s", seq, byID)
			}
		}
	}

	// query -order: an order with a replace; its lifecycle is every event
	// naming it and every event sharing their TraceIDs (read from the
	// bundle here, the long way).
	m := regexp.MustCompile(`"OrigClOrdID":"([^"]+)"`).FindSubmatch(raw)
	order := string(m[1])
	names := func(e *bundleEvent, id string) bool {
		tr := e.Payload.Trade
		if tr == nil {
			return false
		}
		if tr.OrderID == id || tr.ClOrdID == id || tr.OrigClOrdID == id || tr.ExecID == id {
			return true
		}
		for _, s := range tr.Sides {
			if s.OrderID == id || s.ClOrdID == id {
				return true
			}
		}
		return false
	}
	traces := map[string]bool{}
	for i := range evs {
		if names(&evs[i], order) && evs[i].Header.TraceID != "" {
			traces[evs[i].Header.TraceID] = true
		}
	}
	var want []uint64
	types := map[chain.EventType]bool{}
	for i := range evs {
		if names(&evs[i], order) || traces[evs[i].Header.TraceID] {
			want = append(want, uint64(i))
			types[evs[i].Header.EventType] = true
		}
	}
	if !types[chain.ACK] || !types[chain.MOD] || len(traces) == 0 {
		t.Fatalf("order %s in the bundle: types %v, traces %v; want an ACK and a MOD", order, types, traces)
	}
	js, err := runOut(t, "query", "-config", cfg, "-order", order, "-json")
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, s := range parseLines(t, js) {
		got = append(got, s.Seq)
		if !bytes.Equal(s.Event, lines[s.Seq]) {
			t.Errorf("query -order -json: seq %d is not its bundle line", s.Seq)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("query -order %s = %v, want %v", order, got, want)
	}
	table, err := runOut(t, "query", "-config", cfg, "-order", order)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(table), "\n")
	if len(rows) != len(want)+2 || !strings.HasPrefix(rows[0], "order "+order+": ") || !strings.HasPrefix(rows[1], "SEQ ") ||
		!strings.Contains(table, "5=Replaced") || !strings.Contains(table, "signed,sealed") {
		t.Errorf("query -order %s table:\n%s", order, table)
	}
	for i, seq := range want {
		if f := strings.Fields(rows[i+2]); f[0] != strconv.FormatUint(seq, 10) || f[1] != evs[seq].Header.TimestampISO || f[2] != string(evs[seq].Header.EventType) {
			t.Errorf("row %d: %q, want seq %d", i, rows[i+2], seq)
		}
	}

	// query -session -last 5: the session's newest five.
	session := "FIX.4.4:TAP->BROKER"
	var inSession []uint64
	for i := range evs {
		if f := evs[i].Payload.FIX; f != nil && f.SessionID == session {
			inSession = append(inSession, uint64(i))
		} else if s := evs[i].Payload.TapSession; s != nil && s.SessionID == session {
			inSession = append(inSession, uint64(i))
		}
	}
	js, err = runOut(t, "query", "-config", cfg, "-session", session, "-last", "5", "-json")
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, s := range parseLines(t, js) {
		got = append(got, s.Seq)
	}
	if w := inSession[len(inSession)-5:]; !slices.Equal(got, w) {
		t.Errorf("query -session -last 5 = %v, want %v", got, w)
	}
	table, err = runOut(t, "query", "-config", cfg, "-session", session)
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Split(strings.TrimSpace(table), "\n"); len(rows) != 22 {
		t.Errorf("query -session (default -last 20): %d lines:\n%s", len(rows), table)
	}

	// query -from/-to: capture time.
	a, b := evs[100].Header.TimestampISO, evs[200].Header.TimestampISO
	ta, _ := time.Parse(time.RFC3339Nano, a)
	tb, _ := time.Parse(time.RFC3339Nano, b)
	want = want[:0]
	for i := range evs {
		ns, _ := strconv.ParseInt(evs[i].Header.TimestampInt, 10, 64)
		if ns >= ta.UnixNano() && ns < tb.UnixNano() {
			want = append(want, uint64(i))
		}
	}
	js, err = runOut(t, "query", "-config", cfg, "-from", a, "-to", b, "-json")
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, s := range parseLines(t, js) {
		got = append(got, s.Seq)
	}
	if !slices.Equal(got, want) || len(want) < 100 {
		t.Errorf("query -from %s -to %s = %v, want %v", a, b, got, want)
	}

	// Refusals.
	unknown := uuid.Must(uuid.NewV7()).String()
	for _, c := range []struct {
		args  []string
		usage bool
		msg   string
	}{
		{[]string{"show", "-config", cfg, unknown}, false, "no event with EventID " + unknown},
		{[]string{"show", "-config", cfg, strconv.FormatUint(n, 10)}, false, fmt.Sprintf("no event at seq %d", n)},
		{[]string{"show", "-config", cfg, "C72"}, true, "neither a log seq nor an EventID"},
		{[]string{"show", "-config", cfg}, true, "want -config FILE and one EventID or log seq"},
		{[]string{"query", "-config", cfg, "-order", "NO-SUCH-ORDER"}, false, "no event of order NO-SUCH-ORDER"},
		{[]string{"query", "-config", cfg, "-session", "FIX.4.4:TAP->NOBODY"}, false, "no event of session"},
		{[]string{"query", "-config", cfg}, true, "select -order ID, -session S or -from/-to"},
		{[]string{"query", "-config", cfg, "-order", order, "-from", a}, true, "not with -order or -session"},
		{[]string{"query", "-config", cfg, "-from", "yesterday"}, true, "want RFC 3339"},
	} {
		_, err := runOut(t, c.args...)
		var ue *usageError
		if err == nil || errors.As(err, &ue) != c.usage || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v; want usage %v, %q", c.args, err, c.usage, c.msg)
		}
	}
}

// TestShowWhileRunning: show and query read a running tap's data dir
// (through a snapshot; read-only) while a drop copy streams into it; the
// tap keeps ingesting, each answer sees more of the log, and the tap
// shuts down cleanly with no snapshot left.
func TestShowWhileRunning(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port)
	f, err := tapconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	ready := make(chan struct{})
	go func() {
		done <- serve(ctx, f, slog.New(slog.NewJSONHandler(&errb, nil)), &out, serveOptions{Ready: ready})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	const count = 20000
	lg := make(chan error, 1)
	go func() {
		_, err := loadgen.Run(context.Background(), loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port),
			BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP", Count: count, Rate: 5000,
			ResetSeqNum: true, Seed: 12, Now: clock.Wall})
		lg <- err
	}()

	sizeRe := regexp.MustCompile(`\(of (\d+) events in the log\)`)
	var sizes []uint64
	var lastSeqs []uint64
	streaming := true
	for streaming || len(sizes) < 3 {
		select {
		case err := <-lg:
			if err != nil {
				t.Fatalf("loadgen: %v\n%s", err, errb.String())
			}
			streaming = false
		default:
		}
		text, err := runOut(t, "show", "-config", cfgPath, "0")
		if err != nil {
			t.Fatal(err)
		}
		m := sizeRe.FindStringSubmatch(text)
		if m == nil || !strings.Contains(text, "EventType") {
			t.Fatalf("show 0 on a running tap:\n%s", text)
		}
		size, _ := strconv.ParseUint(m[1], 10, 64)
		sizes = append(sizes, size)
		js, err := runOut(t, "query", "-config", cfgPath, "-session", "FIX.4.4:TAP->BROKER", "-last", "3", "-json")
		if err != nil && !strings.Contains(err.Error(), "no event of session") {
			t.Fatal(err)
		}
		if err == nil {
			s := parseLines(t, js)
			// Three, or fewer while the session is young.
			if len(s) == 0 || len(s) > 3 || !slices.IsSortedFunc(s, func(a, b shown) int { return int(a.Seq) - int(b.Seq) }) {
				t.Fatalf("query -last 3 on a running tap:\n%s", js)
			}
			newest := s[len(s)-1]
			lastSeqs = append(lastSeqs, newest.Seq)
			// An event newer than the newest checkpoint is shown as such.
			if newest.Status.Sealed != (newest.Seq < newest.Status.TreeSize) {
				t.Errorf("seq %d: %+v", newest.Seq, newest.Status)
			}
		}
		if len(sizes) > 200 {
			t.Fatal("the tap never stopped streaming")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("log sizes seen by show while the tap ran: %v", sizes)
	if sizes[len(sizes)-1] <= sizes[0] || len(lastSeqs) < 2 || lastSeqs[len(lastSeqs)-1] <= lastSeqs[0] {
		t.Errorf("show and query did not follow ingest: sizes %v, newest session seqs %v", sizes, lastSeqs)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	if ents, err := os.ReadDir(snapshot.SnapshotsDir(f.Tap.DataDir)); err != nil || len(ents) != 0 {
		t.Errorf("snapshots left behind: %v, %v", ents, err)
	}
	// Stopped: every message is there, under the final checkpoint.
	js, err := runOut(t, "query", "-config", cfgPath, "-session", "FIX.4.4:TAP->BROKER", "-last", "1", "-json")
	if err != nil {
		t.Fatal(err)
	}
	if s := parseLines(t, js); len(s) != 1 || !s[0].Status.Sealed || s[0].Status.Signature != inspect.SigValid {
		t.Errorf("after shutdown, the session's newest event: %s", js)
	}
}
