package clock

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/testenv"
)

var updateFixtures = flag.Bool("update", false, "rewrite testdata/chrony/*.bin from the real chronyd of TestChronyd")

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// chronyd is one chronyd process started by a test.
type chronyd struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startChronyd runs `chronyd -x -U -d -f conf`: no control of the system
// clock, no root check, in the foreground, as the test's own user (-u) so
// it can use its files in t.TempDir. Every
// process is killed by PID in t.Cleanup, and its log is printed if the
// test failed.
func startChronyd(t *testing.T, bin, dir, name, conf string) *chronyd {
	t.Helper()
	confPath := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// chronyd refuses a command socket in a directory others can enter.
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	// -u: chronyd checks that its command socket directory belongs to the
	// user it runs as, by default the packaged _chrony; name ourselves.
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-x", "-U", "-d", "-f", confPath, "-u", me.Username}
	d := &chronyd{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	lf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	if err := d.cmd.Start(); err != nil {
		lf.Close()
		testenv.Skip(t, "cannot start chronyd: %v", err)
	}
	go func() { d.cmd.Wait(); lf.Close(); close(d.done) }()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("%s log (pid %d):\n%s", name, d.cmd.Process.Pid, b)
		}
	})
	return d
}

func (d *chronyd) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Kill()
	<-d.done
}

func serverConf(dir string, ntpPort int) string {
	return fmt.Sprintf(`# NTP server on the loopback serving its own clock.
pidfile %[1]s/server.pid
driftfile %[1]s/server.drift
port %[2]d
bindaddress 127.0.0.1
cmdport 0
bindcmdaddress /
local stratum 8
allow 127.0.0.1
`, dir, ntpPort)
}

func clientConf(dir string, ntpPort, cmdPort int, extra string) string {
	return fmt.Sprintf(`# Client of the loopback server, polled every 1/64 s (chrony's minimum).
pidfile %[1]s/client.pid
driftfile %[1]s/client.drift
port 0
cmdport %[3]d
bindcmdaddress 127.0.0.1
bindcmdaddress %[1]s/run/chronyd.sock
server 127.0.0.1 port %[2]d iburst minpoll -6 maxpoll -6 %[4]s
`, dir, ntpPort, cmdPort, extra)
}

// watcher records the notices of a Clock and waits for conditions on its
// snapshots.
type watcher struct {
	mu sync.Mutex
	ns []Notice
}

func (w *watcher) notify(n Notice) { w.mu.Lock(); w.ns = append(w.ns, n); w.mu.Unlock() }

func (w *watcher) notices() []Notice {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Notice(nil), w.ns...)
}

// waitFor polls c until cond holds for its latest snapshot or timeout.
func waitFor(t *testing.T, c *Clock, timeout time.Duration, what string, cond func(*Snapshot) bool) *Snapshot {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := c.Snapshot()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s not reached; last snapshot #%d %s (%s)", timeout, what, s.Seq, s.Status, s.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestChronyd runs two real chronyd processes: a server in `local stratum
// 8` mode and a client polling it every 1/64 s, and watches the status the
// tap derives from the client over its UDP command port and its unix
// socket: UNRELIABLE before the server exists, NTP_SYNCED once it is
// selected, a degradation within the staleness bound after the server is
// killed (while chronyd still says leap "Normal"), and UNRELIABLE with the
// offset in the snapshot when the source is 5 s away.
func TestChronyd(t *testing.T) {
	bin := testenv.RequireTool(t, "chronyd")
	dir := t.TempDir()
	ntpPort, cmdPort := freeUDPPort(t), freeUDPPort(t)
	poll := 200 * time.Millisecond

	client := startChronyd(t, bin, dir, "client", clientConf(dir, ntpPort, cmdPort, ""))
	_ = client
	var w watcher
	cfg := Config{
		Chrony:       &ChronyConfig{Address: fmt.Sprintf("127.0.0.1:%d", cmdPort), Timeout: 200 * time.Millisecond},
		Adjtimex:     true,
		PollInterval: poll,
		Notify:       w.notify,
	}
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// 1. The client runs but has no server: reachable, not synchronised.
	s := waitFor(t, c, 10*time.Second, "chronyd reachable", func(s *Snapshot) bool { return s.Chrony.Reachable })
	if s.Status != chain.Unreliable || s.Chrony.Selected {
		t.Fatalf("without a server: %s selected=%v (%s)", s.Status, s.Chrony.Selected, s.Reason)
	}
	t.Logf("no server: %s (%s)", s.Status, s.Reason)

	// 2. Start the server: NTP_SYNCED, through UDP and the unix socket.
	server := startChronyd(t, bin, dir, "server", serverConf(dir, ntpPort))
	start := time.Now()
	s = waitFor(t, c, 20*time.Second, "NTP_SYNCED", func(s *Snapshot) bool { return s.Status == chain.NTPSynced })
	t.Logf("NTP_SYNCED %v after the server started: bound %dns, poll 2^%d s, stratum %d, last update %v ago",
		time.Since(start).Round(time.Millisecond), s.MaxErrorNs, s.Chrony.SelectedPoll, s.Chrony.Stratum, time.Duration(s.Chrony.LastUpdateAgeNs))
	if st := c.Stamp(); st.Status != chain.NTPSynced || st.Clock.Source != "NTP" || st.Clock.MaxErrorNs == "" {
		t.Fatalf("Stamp = %+v", st)
	}

	uc, err := New(t.Context(), Config{Chrony: &ChronyConfig{Address: filepath.Join(dir, "run", "chronyd.sock")}, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	us := waitFor(t, uc, 5*time.Second, "NTP_SYNCED over the unix socket", func(s *Snapshot) bool { return s.Status == chain.NTPSynced })
	t.Logf("unix socket: %s (%s)", us.Status, us.Reason)
	local := uc.chrony.local
	if err := uc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("client socket %s left behind: %v", local, err)
	}
	if *updateFixtures {
		// Record one poll's replies of the synchronised client.
		src := newChronySource(*cfg.Chrony)
		rec := newRecordingDial(src)
		d := src.poll(time.Now)
		src.close()
		if !d.Selected {
			t.Fatalf("recording poll: %+v", d)
		}
		rec.save(t)
	}

	// 3. Kill the server: the status must degrade within the staleness
	// bound (plus one poll), although chronyd keeps leap "Normal".
	bound := cfg.Thresholds.withDefault().MaxUpdateAge(s.Chrony.SelectedPoll)
	server.kill()
	killed := time.Now()
	s = waitFor(t, c, bound+2*poll+time.Second, "degradation", func(s *Snapshot) bool { return s.Status != chain.NTPSynced })
	took := time.Since(killed)
	t.Logf("degraded to %s %v after the kill (bound %v): %s; chronyd leap %d, reachable %v",
		s.Status, took.Round(time.Millisecond), bound, s.Reason, s.Chrony.Leap, s.Chrony.Reachable)
	if took > bound+2*poll {
		t.Errorf("degradation took %v, more than the staleness bound %v + 2 polls", took, bound)
	}
	// The trap: chronyd still answers and still says leap "Normal".
	if !s.Chrony.Reachable || s.Chrony.Leap != ChronyLeapNormal {
		t.Errorf("after the kill chronyd reachable %v, leap %d; the test expects the lost-source trap (reachable, leap Normal)", s.Chrony.Reachable, s.Chrony.Leap)
	}
	ns := w.notices()
	var sawSynced, sawDegraded bool
	for _, n := range ns {
		sawSynced = sawSynced || (n.Changed && n.Snapshot.Status == chain.NTPSynced)
		sawDegraded = sawDegraded || (n.Degraded && n.Prev == chain.NTPSynced)
	}
	if !sawSynced || !sawDegraded {
		t.Errorf("notices lack the change to NTP_SYNCED (%v) or the degradation (%v): %d notices", sawSynced, sawDegraded, len(ns))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	client.kill()

	// 4. A source 5 s away (chrony's per-source `offset 5`, which shifts
	// every measurement of the source as if the server's clock were 5 s
	// off): selected, leap normal, but UNRELIABLE with the offset shown.
	dir2 := t.TempDir()
	ntpPort2, cmdPort2 := freeUDPPort(t), freeUDPPort(t)
	startChronyd(t, bin, dir2, "server", serverConf(dir2, ntpPort2))
	startChronyd(t, bin, dir2, "client", clientConf(dir2, ntpPort2, cmdPort2, "offset 5"))
	oc, err := New(t.Context(), Config{Chrony: &ChronyConfig{Address: fmt.Sprintf("127.0.0.1:%d", cmdPort2)}, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	s = waitFor(t, oc, 20*time.Second, "a selected source 5 s off", func(s *Snapshot) bool {
		return s.Chrony.Reachable && s.Chrony.Selected && absNs(s.Chrony.CurrentCorrectionNs) > 4_900_000_000
	})
	t.Logf("offset source: %s, CurrentCorrection %dns, bound %dns: %s", s.Status, s.Chrony.CurrentCorrectionNs, s.MaxErrorNs, s.Reason)
	if s.Status != chain.Unreliable || s.MaxErrorNs < 4_900_000_000 || !strings.Contains(s.Reason, "bound") {
		t.Fatalf("offset source: %s bound %d (%s)", s.Status, s.MaxErrorNs, s.Reason)
	}
	e := s.Evidence("")
	// The correction is about 5 s either side: 4.99… s or 5.00… s.
	if v, err := strconv.ParseInt(e.Chrony.CurrentCorrectionNs, 10, 64); err != nil || absNs(v) < 4_900_000_000 || absNs(v) > 5_100_000_000 {
		t.Errorf("evidence CurrentCorrectionNs %q does not show the 5 s offset", e.Chrony.CurrentCorrectionNs)
	}
}

// withDefault returns th, or the defaults for the zero value (as Config).
func (th Thresholds) withDefault() Thresholds {
	if th == (Thresholds{}) {
		return Defaults()
	}
	return th
}

// recordingDial wraps a chronySource's dial so that the replies of a real
// chronyd are kept, one per command, for testdata (go test -update).
type recordingDial struct {
	mu      sync.Mutex
	replies map[string][]byte
}

func newRecordingDial(s *chronySource) *recordingDial {
	r := &recordingDial{replies: map[string][]byte{}}
	inner := s.dial
	s.dial = func() (deadlineConn, error) {
		c, err := inner()
		if err != nil {
			return nil, err
		}
		return &recordingConn{deadlineConn: c, r: r}, nil
	}
	return r
}

type recordingConn struct {
	deadlineConn
	r *recordingDial
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.deadlineConn.Read(p)
	if err == nil && n >= 8 {
		name := fixtureName(p[:n])
		c.r.mu.Lock()
		c.r.replies[name] = bytes.Clone(p[:n])
		c.r.mu.Unlock()
	}
	return n, err
}

// fixtureName names a reply by its reply type (bytes 6–7 of the header).
func fixtureName(b []byte) string {
	return fmt.Sprintf("reply-%d", uint16(b[6])<<8|uint16(b[7]))
}

func (r *recordingDial) save(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.MkdirAll(filepath.Join("testdata", "chrony"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range r.replies {
		p := filepath.Join("testdata", "chrony", name+".bin")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", p, len(b))
	}
}
