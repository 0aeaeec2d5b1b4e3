package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/cosign"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func mustWindows(t testing.TB, s string) []Window {
	t.Helper()
	ws, err := ParseWindows(s)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func round(t testing.TB, m *Monitor) *Report {
	t.Helper()
	rep, err := m.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// want asserts the status of a check and returns the result.
func want(t testing.TB, rep *Report, replica, check string, s Status) Result {
	t.Helper()
	x, ok := rep.Find(replica, check)
	if !ok {
		t.Fatalf("no %s result for %s in\n%s", check, replica, rep)
	}
	if x.Status != s {
		t.Fatalf("%s %s: status %s, want %s\n%s", replica, check, x.Status, s, rep)
	}
	return x
}

func wantAllOK(t testing.TB, rep *Report) {
	t.Helper()
	for _, x := range rep.Results {
		if x.Status != StatusOK {
			t.Fatalf("not all ok:\n%s", rep)
		}
	}
}

// scenario: a log of 700 FIX-derived events one second apart up to t0,
// published to two replicas; a monitor of both with a trading window
// around t0.
type scenario struct {
	t    testing.TB
	l    *testLog
	clk  *fakeClock
	urls []string
	dirs []string
}

func newScenario(t testing.TB, n int) *scenario {
	s := &scenario{t: t, l: newTestLog(t), clk: &fakeClock{t: t0}}
	s.urls, s.dirs = replicas(t, n)
	s.l.addRun(700, true, t0.Add(-700*time.Second), time.Second)
	for _, d := range s.dirs {
		s.l.publish(d, 0, 700)
	}
	return s
}

func (s *scenario) config() Config {
	return Config{Windows: mustWindows(s.t, "Mon-Fri 13:30-20:00 UTC"), Logger: quiet}
}

// grow appends n events (FIX-derived or not) one second apart from the
// log's last and publishes the growth to the replicas listed.
func (s *scenario) grow(n int, fix bool, dirs ...string) {
	from := s.l.size()
	s.l.addRun(n, fix, s.lastTime().Add(time.Second), time.Second)
	for _, d := range dirs {
		s.l.publish(d, from, s.l.size())
	}
}

func (s *scenario) lastTime() time.Time {
	ev, err := parseEvent(s.l.lines[len(s.l.lines)-1], s.l.size()-1, nil)
	if err != nil {
		panic(err)
	}
	return time.Unix(0, ev.TimeNs)
}

func TestAllChecksPass(t *testing.T) {
	s := newScenario(t, 2)
	m := newMonitor(t, s.l, s.clk, s.urls, s.config())
	rep := round(t, m)
	wantAllOK(t, rep)
	if len(rep.Results) != 2*5+1 {
		t.Fatalf("%d results, want 11:\n%s", len(rep.Results), rep)
	}
	// First round: trust on first use, the last bundle checked.
	if x := want(t, rep, s.urls[0], CheckData, StatusOK); !strings.Contains(x.Detail, "entries [512, 700)") {
		t.Errorf("first round data: %s", x.Line())
	}
	want(t, rep, LogWide, CheckSilence, StatusOK)
	if !rep.SilenceKnown || rep.Silence != 0 || !rep.InWindow {
		t.Errorf("silence %v known %v in window %v", rep.Silence, rep.SilenceKnown, rep.InWindow)
	}

	s.grow(300, true, s.dirs...)
	s.clk.Advance(5 * time.Minute)
	rep = round(t, m)
	wantAllOK(t, rep)
	x := want(t, rep, s.urls[1], CheckData, StatusOK)
	if !strings.Contains(x.Detail, "entries [512, 1000)") || !strings.Contains(x.Detail, "sweep re-checked bundles [0, 2)") {
		t.Errorf("second round data: %s", x.Line())
	}
	if x := want(t, rep, s.urls[0], CheckConsistent, StatusOK); !strings.Contains(x.Detail, "by 300 entries") {
		t.Errorf("consistent: %s", x.Line())
	}
	// A line is stable and greppable.
	line := want(t, rep, s.urls[0], CheckAgree, StatusOK).Line()
	if !strings.HasPrefix(line, "fixtap-monitor check=agree replica="+s.urls[0]+" status=ok size=1000 detail=") {
		t.Errorf("line %q", line)
	}
}

func TestFullFirstRound(t *testing.T) {
	s := newScenario(t, 1)
	cfg := s.config()
	cfg.Full = true
	rep := round(t, newMonitor(t, s.l, s.clk, s.urls, cfg))
	wantAllOK(t, rep)
	if x := want(t, rep, s.urls[0], CheckData, StatusOK); !strings.Contains(x.Detail, "entries [0, 700)") {
		t.Errorf("full: %s", x.Line())
	}
}

// A byte flipped in an entry bundle, a level-0 tile, an event line — in
// new data, or in old data that the sweep reaches — is a data failure
// naming the object.
func TestFlippedByte(t *testing.T) {
	for _, c := range []struct {
		name   string
		path   string
		at     int
		what   string
		check  string // the check that names it
		before bool   // flip before the growth (old data: the sweep finds it)
	}{
		{"entry bundle", layout.EntriesPath(2, 0), 2 + 5, "entry", CheckData, false},
		{"partial entry bundle", layout.EntriesPath(3, 232), 34*7 + 2, "entry", CheckData, false},
		{"level-0 tile", layout.TilePath(0, 2, 0), 100, "tile", CheckData, false},
		{"event line", eventsPath(3, 232), 40, "event", CheckData, false},
		{"old entry bundle", layout.EntriesPath(0, 0), 2 + 31, "entry", CheckData, true},
		{"old tile", layout.TilePath(0, 1, 0), 8191, "tile", CheckData, true},
		{"old event line", eventsPath(1, 0), 10, "event", CheckData, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newScenario(t, 2)
			m := newMonitor(t, s.l, s.clk, s.urls, s.config())
			wantAllOK(t, round(t, m))
			if c.before {
				flip(t, s.dirs[1], c.path, c.at)
			}
			s.grow(300, true, s.dirs...)
			if !c.before {
				flip(t, s.dirs[1], c.path, c.at)
			}
			s.clk.Advance(time.Minute)
			rep := round(t, m)
			want(t, rep, s.urls[0], CheckData, StatusOK)
			x := want(t, rep, s.urls[1], c.check, StatusFail)
			var me *MismatchError
			if !errors.As(x.Err, &me) || me.What != c.what {
				t.Fatalf("error %v, want a %s MismatchError", x.Err, c.what)
			}
			if !strings.Contains(x.Line(), c.path) {
				t.Errorf("the line does not name %s: %s", c.path, x.Line())
			}
			if rep.OK() {
				t.Error("report OK despite a failure")
			}
			t.Log(x.Line())
		})
	}
}

// A tile, bundle or events object the checkpoint requires that is gone is
// a failure naming the URL and the 404.
func TestDeleted(t *testing.T) {
	for _, path := range []string{layout.TilePath(0, 2, 0), layout.EntriesPath(3, 232), eventsPath(2, 0), layout.TilePath(1, 0, 3)} {
		t.Run(path, func(t *testing.T) {
			s := newScenario(t, 2)
			m := newMonitor(t, s.l, s.clk, s.urls, s.config())
			wantAllOK(t, round(t, m))
			s.grow(300, true, s.dirs...)
			if err := os.Remove(filepath.Join(s.dirs[0], filepath.FromSlash(path))); err != nil {
				t.Fatal(err)
			}
			rep := round(t, m)
			var fe *FetchError
			found := false
			for _, x := range rep.Results {
				if x.Status == StatusFail && errors.As(x.Err, &fe) && fe.NotFound() && strings.HasSuffix(fe.URL, path) {
					found = true
					t.Log(x.Line())
				}
			}
			if !found {
				t.Fatalf("no 404 failure for %s:\n%s", path, rep)
			}
			want(t, rep, s.urls[1], CheckData, StatusOK)
		})
	}
}

// A partial tile may be deleted once its full tile exists (tlog-tiles
// "Partial Tiles"): reading the full tile instead is not a failure.
func TestPartialTileGoneFullPresent(t *testing.T) {
	s := newScenario(t, 1)
	s.grow(68, true, s.dirs...) // 768: tile 0/002 is full now
	if err := os.Remove(filepath.Join(s.dirs[0], filepath.FromSlash(layout.TilePath(0, 2, 188)))); err != nil {
		t.Fatal(err)
	}
	// Serve the checkpoint of 700 again: it needs tile 0/002.p/188.
	writeFile(t, s.dirs[0], layout.CheckpointPath, s.l.checkpoint(700))
	cfg := s.config()
	cfg.Full = true
	wantAllOK(t, round(t, newMonitor(t, s.l, s.clk, s.urls, cfg)))
}

// One replica stuck behind: consistent and agreeing but "behind" (a
// warning), then stale once MaxAge passes without it changing, while the
// other stays fresh.
func TestBehindThenStale(t *testing.T) {
	s := newScenario(t, 2)
	m := newMonitor(t, s.l, s.clk, s.urls, s.config())
	wantAllOK(t, round(t, m))
	for i := range 7 {
		s.grow(60, i%2 == 0, s.dirs[0]) // only replica 0 moves on
		s.clk.Advance(10 * time.Minute)
		rep := round(t, m)
		want(t, rep, s.urls[1], CheckConsistent, StatusOK)
		x := want(t, rep, s.urls[1], CheckAgree, StatusWarn)
		if !strings.Contains(x.Detail, "behind") {
			t.Fatalf("agree: %s", x.Line())
		}
		want(t, rep, s.urls[0], CheckCadence, StatusOK)
		if i < 6 {
			want(t, rep, s.urls[1], CheckCadence, StatusOK)
			if !rep.OK() {
				t.Fatalf("round %d not OK:\n%s", i, rep)
			}
		} else {
			x := want(t, rep, s.urls[1], CheckCadence, StatusFail)
			var se *StaleError
			if !errors.As(x.Err, &se) || se.Size != 700 || se.Age <= time.Hour {
				t.Fatalf("cadence: %v", x.Err)
			}
			t.Log(x.Line())
		}
		if rr := rep.Replicas[1]; rr.Behind != s.l.size()-700 {
			t.Errorf("behind %d, want %d", rr.Behind, s.l.size()-700)
		}
	}
}

// Two replicas with different trees: at the same size (a split view) and
// at different sizes (a fork).
func TestSplitView(t *testing.T) {
	for _, extra := range []int{0, 100} {
		s := newScenario(t, 2)
		m := newMonitor(t, s.l, s.clk, s.urls, s.config())
		wantAllOK(t, round(t, m))
		// Replica 1 gets a log that differs from event 700 on.
		fork := newTestLog(t)
		fork.lines, fork.hashes, fork.stored = append([][]byte{}, s.l.lines...), append([][32]byte{}, s.l.hashes...), append(s.l.stored[:0:0], s.l.stored...)
		fork.addRun(50+extra, false, s.lastTime().Add(time.Second), time.Second)
		fork.publish(s.dirs[1], 700, fork.size())
		s.grow(50, true, s.dirs[0])
		rep := round(t, m)
		var ie *InconsistentError
		x := want(t, rep, s.urls[1], CheckAgree, StatusFail)
		if !errors.As(x.Err, &ie) {
			t.Fatalf("agree: %v", x.Err)
		}
		want(t, rep, s.urls[0], CheckAgree, StatusFail)
		t.Log(x.Line())
		// Both extend the last verified checkpoint, each consistently.
		want(t, rep, s.urls[0], CheckConsistent, StatusOK)
		want(t, rep, s.urls[1], CheckConsistent, StatusOK)
		// The state does not move on.
		if m.state.log(testOrigin).Checkpoint != string(s.l.checkpoint(700)) {
			t.Error("the state advanced on a split view")
		}
	}
}

// A replica rewritten with another history that does not extend the last
// verified checkpoint.
func TestInconsistentWithState(t *testing.T) {
	s := newScenario(t, 1)
	m := newMonitor(t, s.l, s.clk, s.urls, s.config())
	wantAllOK(t, round(t, m))
	other := newTestLog(t)
	other.addRun(800, true, t0, time.Second)
	other.publish(s.dirs[0], 0, 800)
	rep := round(t, m)
	x := want(t, rep, s.urls[0], CheckConsistent, StatusFail)
	var ie *InconsistentError
	if !errors.As(x.Err, &ie) || ie.Old.N != 700 || ie.New.N != 800 || ie.OldFrom != "state" {
		t.Fatalf("consistent: %v", x.Err)
	}
	t.Log(x.Line())
}

func TestRollback(t *testing.T) {
	s := newScenario(t, 3)
	cfg := s.config()
	cfg.StatePath = filepath.Join(t.TempDir(), "state")
	m := newMonitor(t, s.l, s.clk, s.urls[:2], cfg)
	wantAllOK(t, round(t, m))
	old := s.l.checkpoint(700)
	s.grow(100, true, s.dirs[:2]...)
	wantAllOK(t, round(t, m))
	// Replica 0 serves the old checkpoint again.
	writeFile(t, s.dirs[0], layout.CheckpointPath, old)
	rep := round(t, m)
	x := want(t, rep, s.urls[0], CheckConsistent, StatusFail)
	var re *RollbackError
	if !errors.As(x.Err, &re) || re.PreviousSize != 800 || re.Current.N != 700 || re.Log {
		t.Fatalf("rollback: %v", x.Err)
	}
	t.Log(x.Line())
	// It stays an alarm.
	want(t, round(t, m), s.urls[0], CheckConsistent, StatusFail)
	// A replica never seen before at 700, when no replica serves the 800
	// the monitor verified: the log was rolled back.
	m = newMonitor(t, s.l, s.clk, s.urls[2:], cfg)
	x = want(t, round(t, m), s.urls[2], CheckConsistent, StatusFail)
	if !errors.As(x.Err, &re) || !re.Log || re.PreviousSize != 800 {
		t.Fatalf("log rollback: %v", x.Err)
	}
	t.Log(x.Line())
}

// Silence: during a window, FIX-derived events stop while the tap's SNC
// clock events keep the tree growing.
func TestSilence(t *testing.T) {
	s := newScenario(t, 2)
	m := newMonitor(t, s.l, s.clk, s.urls, s.config())
	wantAllOK(t, round(t, m))
	// Four minutes of SNC only, one a minute: still within 5 min.
	for range 4 {
		s.l.add(false, s.lastTime().Add(time.Minute))
	}
	s.l.publish(s.dirs[0], 700, s.l.size())
	s.l.publish(s.dirs[1], 700, s.l.size())
	s.clk.Advance(4 * time.Minute)
	rep := round(t, m)
	wantAllOK(t, rep)
	if rep.Silence != 4*time.Minute {
		t.Errorf("silence %v, want 4m", rep.Silence)
	}
	// Two more minutes: 6 min of silence.
	from := s.l.size()
	s.l.add(false, s.lastTime().Add(time.Minute))
	s.l.add(false, s.lastTime().Add(time.Minute))
	s.l.publish(s.dirs[0], from, s.l.size())
	s.l.publish(s.dirs[1], from, s.l.size())
	s.clk.Advance(2 * time.Minute)
	rep = round(t, m)
	x := want(t, rep, LogWide, CheckSilence, StatusFail)
	var se *SilenceError
	if !errors.As(x.Err, &se) || se.Silence != 6*time.Minute || se.LastFIX.Index != 699 {
		t.Fatalf("silence: %v", x.Err)
	}
	t.Log(x.Line())
	for _, u := range s.urls {
		want(t, rep, u, CheckData, StatusOK)
		want(t, rep, u, CheckCadence, StatusOK)
	}
	// FIX resumes.
	s.grow(1, true, s.dirs...)
	wantAllOK(t, round(t, m))
}

// Heartbeats can be told not to count.
func TestSilenceIgnore(t *testing.T) {
	s := newScenario(t, 1)
	cfg := s.config()
	cfg.SilenceIgnore = []string{"EXE"} // the test log's FIX events are all EXE
	cfg.Full = true
	rep := round(t, newMonitor(t, s.l, s.clk, s.urls, cfg))
	want(t, rep, LogWide, CheckSilence, StatusFail)
}

// Outside the windows a silent log is fine; a monitor started without
// state inside a window finds the newest FIX-derived event by reading
// back, and judges the silence from the window's opening.
func TestSilenceWindows(t *testing.T) {
	s := newScenario(t, 1)
	// 20 minutes of SNC after the FIX events (13:48:20 to 13:59:59): 300
	// events 4 s apart, so the last bundle holds no FIX-derived event and
	// a monitor without state must look back for one.
	s.l.addRun(300, false, s.lastTime().Add(4*time.Second), 4*time.Second)
	s.l.publish(s.dirs[0], 700, s.l.size())
	if got := s.lastTime(); !got.Equal(time.Date(2026, 3, 2, 14, 19, 59, 0, time.UTC)) {
		t.Fatalf("log time %v", got)
	}
	for _, c := range []struct {
		window string
		status Status
	}{
		{"Sat-Sun 00:00-24:00 UTC", StatusOK},            // not today
		{"Mon 14:25-20:00 UTC", StatusOK},                // not yet open at log time
		{"Mon 14:17-14:19 UTC", StatusOK},                // closed before log time
		{"Mon 14:00-20:00 UTC", StatusFail},              // silent since it opened: 19m59s
		{"Sun 17:00-16:00 America/Chicago", StatusFail},  // Globex, Sunday 17:00 CST (23:00 UTC) to Monday 16:00: 20 min since the last FIX event
		{"Mon 14:16-20:00 UTC", StatusOK},                // opened 3m59s before log time
		{"Mon 09:00-17:00 America/New_York", StatusFail}, // 14:00 UTC is 09:00 EST
	} {
		t.Run(c.window, func(t *testing.T) {
			cfg := s.config()
			cfg.Windows = mustWindows(t, c.window)
			rep := round(t, newMonitor(t, s.l, s.clk, s.urls, cfg))
			x := want(t, rep, LogWide, CheckSilence, c.status)
			t.Log(x.Line())
			if !rep.SilenceKnown && c.status == StatusFail {
				t.Error("silence unknown")
			}
		})
	}
}

// Checkpoints that do not verify.
func TestCheckpointFailures(t *testing.T) {
	s := newScenario(t, 1)
	good, err := os.ReadFile(filepath.Join(s.dirs[0], "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	other := newTestLog(t)
	_, otherV, _ := note.GenerateKey(strings.NewReader(strings.Repeat("x", 64)), testOrigin)
	otherVerifier, _ := note.NewVerifier(otherV)
	for _, c := range []struct {
		name string
		note []byte
		key  note.Verifier
	}{
		{"tampered", []byte(strings.Replace(string(good), "\n700\n", "\n701\n", 1)), nil},
		{"other key", good, otherVerifier},
		{"truncated", good[:20], nil},
		{"extension line", signed(t, other, testOrigin+"\n700\n"+strings.Split(string(good), "\n")[2]+"\nextra\n"), nil},
		{"other origin", signed(t, other, "other.example/log\n700\n"+strings.Split(string(good), "\n")[2]+"\n"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeFile(t, s.dirs[0], "checkpoint", c.note)
			cfg := s.config()
			cfg.Replicas, cfg.LogKey, cfg.Now = s.urls, s.l.vkey, s.clk.Now
			if c.key != nil {
				cfg.LogKey, cfg.Origin = c.key, testOrigin
			}
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rep := round(t, m)
			x := want(t, rep, s.urls[0], CheckCheckpoint, StatusFail)
			var ce *CheckpointError
			if !errors.As(x.Err, &ce) {
				t.Fatalf("%v", x.Err)
			}
			want(t, rep, s.urls[0], CheckData, StatusSkip)
			t.Log(x.Line())
		})
	}
	// A replica that does not answer.
	cfg := s.config()
	cfg.Replicas, cfg.LogKey, cfg.Now = []string{"http://127.0.0.1:1/none/"}, s.l.vkey, s.clk.Now
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := want(t, round(t, m), "http://127.0.0.1:1/none/", CheckCheckpoint, StatusFail)
	var fe *FetchError
	if !errors.As(x.Err, &fe) || fe.Status != 0 {
		t.Fatalf("%v", x.Err)
	}
}

func signed(t testing.TB, l *testLog, text string) []byte {
	msg, err := note.Sign(&note.Note{Text: text}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// With a witness policy: cosignatures must meet it, and their timestamps
// are the cadence's evidence.
func TestWitnessPolicy(t *testing.T) {
	s := newScenario(t, 2)
	wclk := &fakeClock{t: t0}
	w1, w2 := witness(t, "witness.example/w1", wclk), witness(t, "witness.example/w2", wclk)
	vkey := func(w *cosign.Signer) string { return w.Verifier().(interface{ String() string }).String() }
	policy, err := cosign.ParsePolicy("test.policy", []byte("witness w1 "+vkey(w1)+"\nwitness w2 "+vkey(w2)+"\ngroup g any w1 w2\nquorum g\n"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.dirs[0], "checkpoint", s.l.checkpoint(700, w1))
	writeFile(t, s.dirs[1], "checkpoint", s.l.checkpoint(700)) // no cosignature
	cfg := s.config()
	cfg.Policy = policy
	m := newMonitor(t, s.l, s.clk, s.urls, cfg)
	rep := round(t, m)
	x := want(t, rep, s.urls[0], CheckCheckpoint, StatusOK)
	if !strings.Contains(x.Detail, "w1@") {
		t.Errorf("checkpoint: %s", x.Line())
	}
	x = want(t, rep, s.urls[1], CheckCheckpoint, StatusFail)
	if !errors.Is(x.Err, cosign.ErrPolicyUnsatisfied) {
		t.Fatalf("%v", x.Err)
	}
	t.Log(x.Line())
	// The cosignature's time is the age: re-cosigned 30 minutes later with
	// no growth, replica 0 is fresh; replica 1, first seen then, is 70
	// minutes old at the third round.
	s.clk.Advance(40 * time.Minute)
	wclk.Advance(30 * time.Minute)
	writeFile(t, s.dirs[0], "checkpoint", s.l.checkpoint(700, w2))
	rep = round(t, m)
	want(t, rep, s.urls[0], CheckCadence, StatusOK)
	if rep.Replicas[0].Age != 10*time.Minute {
		t.Errorf("age %v, want 10m (from the cosignature)", rep.Replicas[0].Age)
	}
	s.clk.Advance(30 * time.Minute)
	rep = round(t, m)
	x = want(t, rep, s.urls[0], CheckCadence, StatusOK)
	if !strings.Contains(x.Detail, "cosignature by w2") {
		t.Errorf("cadence: %s", x.Line())
	}
	x = want(t, rep, s.urls[1], CheckCadence, StatusFail)
	if !strings.Contains(x.Line(), "first seen") {
		t.Errorf("cadence: %s", x.Line())
	}
	// A cosignature 61 minutes old is stale, whatever the monitor saw.
	s.clk.Advance(21 * time.Minute)
	x = want(t, round(t, m), s.urls[0], CheckCadence, StatusFail)
	t.Log(x.Line())
}

// The state survives a restart: the next monitor continues from it
// (checks only what is new) and proves consistency with what it stored.
func TestStateRestart(t *testing.T) {
	s := newScenario(t, 2)
	cfg := s.config()
	cfg.StatePath = filepath.Join(t.TempDir(), "monitor.state")
	wantAllOK(t, round(t, newMonitor(t, s.l, s.clk, s.urls, cfg)))
	s.grow(300, true, s.dirs...)
	s.clk.Advance(time.Minute)
	m := newMonitor(t, s.l, s.clk, s.urls, cfg)
	rep := round(t, m)
	wantAllOK(t, rep)
	if x := want(t, rep, s.urls[0], CheckConsistent, StatusOK); !strings.Contains(x.Detail, "(size 700) by 300") {
		t.Errorf("%s", x.Line())
	}
	b, err := os.ReadFile(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	if l := st.Logs[0]; l.Replicas[0].Verified != 1000 || l.LastEvent.Index != 999 || l.FIXSince.Index != 999 {
		t.Errorf("state: %s", b)
	}
	// A state whose checkpoint the log key does not verify is refused.
	bad := strings.Replace(string(b), "\\n1000\\n", "\\n1001\\n", 1)
	if bad == string(b) {
		t.Fatal("no size in the state's checkpoint")
	}
	if err := os.WriteFile(cfg.StatePath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Replicas, cfg.LogKey, cfg.Now = s.urls, s.l.vkey, s.clk.Now
	if _, err := New(cfg); !errors.Is(err, ErrState) {
		t.Fatalf("tampered state: %v", err)
	}
}

// Start runs rounds at the interval; /metrics and /healthz show them;
// Shutdown stops the loop.
func TestStartMetricsHealthz(t *testing.T) {
	s := newScenario(t, 2)
	cfg := s.config()
	cfg.Interval = time.Second
	m := newMonitor(t, s.l, s.clk, s.urls, cfg)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	get := func(p string) (int, string) {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("healthz before a round: %d", code)
	}
	rounds := make(chan *Report, 10)
	m.Start(context.Background(), func(r *Report, err error) {
		if err != nil {
			t.Error(err)
		}
		rounds <- r
	})
	wantAllOK(t, <-rounds)
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	flip(t, s.dirs[1], layout.EntriesPath(1, 0), 40) // old data: the sweep finds it
	for r := range rounds {
		if !r.OK() {
			break
		}
	}
	code, body := get("/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "check=data") {
		t.Errorf("healthz: %d %q", code, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`fixtap_monitor_check_ok{check="data",replica="` + s.urls[1] + `"} 0`,
		`fixtap_monitor_check_ok{check="data",replica="` + s.urls[0] + `"} 1`,
		`fixtap_monitor_tree_size{replica="` + s.urls[0] + `"} 700`,
		`fixtap_monitor_fix_silence_seconds 0`,
		`fixtap_monitor_ok 0`,
		`fixtap_monitor_in_window 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(metrics, `fixtap_monitor_check_failures_total{check="data",replica="`+s.urls[1]+`"}`) {
		t.Error("no failure counter")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	l := newTestLog(t)
	ok := Config{Replicas: []string{"https://bucket.s3.example/prefix"}, LogKey: l.vkey, Now: (&fakeClock{}).Now}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []func(*Config){
		func(c *Config) { c.Replicas = nil },
		func(c *Config) { c.Replicas = []string{"s3://bucket/prefix"} },
		func(c *Config) { c.Replicas = []string{"https://key:secret@bucket.example/"} },
		func(c *Config) { c.Replicas = []string{"https://b.example/p?x=1"} },
		func(c *Config) { c.Replicas = []string{"https://b.example/p", "https://b.example/p/"} },
		func(c *Config) { c.LogKey = nil },
		func(c *Config) { c.Now = nil },
		func(c *Config) { c.MaxAge = time.Millisecond },
		func(c *Config) { c.Interval = -time.Second },
		func(c *Config) { c.SilenceIgnore = []string{"hbt"} },
		func(c *Config) { c.Windows = []Window{{}} },
	} {
		cfg := ok
		c(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if s := ok.LogValue().String(); strings.Contains(s, "secret") {
		t.Error(s)
	}
}
