package main

// The systemd integration: the unit's sandbox rating, sd_notify from the
// built binary, and a watchdog that pings only while the log is healthy.
//
// Re-run: go test -run 'TestUnitSecurity|TestNotify|TestWatchdog' -v ./cmd/fixtap

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/testenv"
)

// maxExposure is the highest `systemd-analyze security` rating the shipped
// unit may have (0 = locked down, 10 = unprotected).
const maxExposure = 2.0

// TestUnitSecurity rates systemd/fixtap.service offline and checks the
// settings the tap relies on.
func TestUnitSecurity(t *testing.T) {
	sa := testenv.RequireTool(t, "systemd-analyze")
	unit := filepath.Join("..", "..", "systemd", "fixtap.service")
	out, err := exec.Command(sa, "security", "--offline=yes", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for fixtap\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	exposure, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security --offline=yes: exposure %.1f", exposure)
	if exposure > maxExposure {
		t.Fatalf("exposure %.1f > %.1f:\n%s", exposure, maxExposure, out)
	}
	text, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure",
		"User=fixtap", "StateDirectory=fixtap", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service"} {
		if !bytes.Contains(text, []byte("\n"+want)) {
			t.Errorf("the unit lacks %q", want)
		}
	}
}

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET; its messages arrive on a channel.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// sun_path holds 108 bytes; t.TempDir can be long, so keep the name short.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ns := &notifySocket{path: filepath.Join(dir, "notify"), msgs: make(chan string, 1024)}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		defer close(ns.msgs)
		buf := make([]byte, 4096)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case ns.msgs <- string(buf[:n]):
			default: // a test that stopped reading; drop
			}
		}
	}()
	return ns
}

// await returns the first message containing want, failing after d.
func (ns *notifySocket) await(t *testing.T, want string, d time.Duration, context func() string) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-ns.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q on NOTIFY_SOCKET within %v\n%s", want, d, context())
		}
	}
}

func buildFixtap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fixtap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestNotifyReadyAndWatchdog runs the built `fixtap run` as systemd would
// with Type=notify and WatchdogSec=: READY=1 once the sessions are up,
// WATCHDOG=1 pings at half the interval, STOPPING=1 on SIGTERM, exit 0.
func TestNotifyReadyAndWatchdog(t *testing.T) {
	bin := buildFixtap(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port)
	ns := listenNotify(t)
	cmd := exec.Command(bin, "run", "-config", cfg)
	// Pings every second; each probe may take up to that (an fsync on a
	// loaded machine), so allow several intervals per ping.
	const watchdog = 2 * time.Second
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path, "WATCHDOG_USEC="+strconv.Itoa(int(watchdog/time.Microsecond)))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	ready := ns.await(t, "READY=1", 30*time.Second, stderr.String)
	if !strings.Contains(ready, "STATUS=recording 1 sessions") {
		t.Errorf("READY=1 without the expected STATUS= line: %q", ready)
	}
	// The listener is up when READY=1 is sent.
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Errorf("READY=1 sent, but the acceptor does not answer: %v", err)
	} else {
		c.Close()
	}
	for i := 0; i < 3; i++ {
		ns.await(t, "WATCHDOG=1", 3*watchdog, stderr.String)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ns.await(t, "STOPPING=1", 10*time.Second, stderr.String)
	waitExit(t, cmd, 30*time.Second, stderr.String)
}

// waitExit waits for cmd, failing unless it exits 0 within d.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration, stderr func() string) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("fixtap run: %v (want exit status 0)\n%s", err, stderr())
		}
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, into stderr
		<-exited
		t.Fatalf("fixtap run did not exit within %v of SIGTERM:\n%s", d, stderr())
	}
}

// syncBuffer is a bytes.Buffer safe for a child's output and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hangFS makes every fsync of the files it creates block while hang is set:
// a disk that stopped answering, under a log that has not failed.
type hangFS struct {
	vfs.FS
	hang    atomic.Bool
	release chan struct{}
}

type hangFile struct {
	vfs.File
	fs *hangFS
}

func (f hangFile) wait() {
	if f.fs.hang.Load() {
		<-f.fs.release
	}
}
func (f hangFile) Sync() error     { f.wait(); return f.File.Sync() }
func (f hangFile) SyncData() error { f.wait(); return f.File.SyncData() }
func (f hangFile) SyncTo(n int64) (bool, error) {
	f.wait()
	return f.File.SyncTo(n)
}

func (h *hangFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return hangFile{f, h}, nil
}
func (h *hangFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return h.wrap(h.FS.Create(name, c))
}
func (h *hangFS) ReuseForWrite(old, new string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return h.wrap(h.FS.ReuseForWrite(old, new, c))
}
func (h *hangFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return h.wrap(h.FS.OpenReadWrite(name, c, opts...))
}

// TestWatchdogPingsOnlyWhileHealthy runs the watchdog against a real log:
// it pings while the log is healthy, stops pinging (and says why in a
// STATUS= line) while fsync hangs, pings again when the disk answers, and
// stops for good once the log is closed.
func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	ns := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", ns.path)
	hfs := &hangFS{FS: vfs.Default, release: make(chan struct{})}
	lc := chain.DefaultConfig(t.TempDir())
	lc.FS = hfs
	priv, err := chain.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lc.Signer = chain.NewSigner(priv)
	lc.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	lc.Fatal = func(err error) { t.Errorf("log failed: %v", err) }
	l, err := chain.Open(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			l.Close()
		}
	}()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// Each probe may take up to period: generous, for a loaded machine.
	const period = 250 * time.Millisecond
	go func() { defer close(done); watchdog(ctx, l, logger, period) }()
	defer func() { cancel(); <-done }()

	for i := 0; i < 3; i++ {
		ns.await(t, "WATCHDOG=1", 20*period, logs.String)
	}
	// The disk stops answering: the sync barrier cannot complete.
	hfs.hang.Store(true)
	ns.await(t, "STATUS=log unhealthy", 20*period, logs.String)
	if n := countPings(ns, 4*period); n > 0 {
		t.Fatalf("%d watchdog pings while fsync hangs", n)
	}
	// It answers again.
	hfs.hang.Store(false)
	close(hfs.release)
	ns.await(t, "WATCHDOG=1", 20*period, logs.String)
	// A closed (stopped) log is never healthy.
	cancel()
	<-done
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := logHealthy(context.Background(), l, time.Second); !errors.Is(err, chain.ErrClosed) {
		t.Errorf("logHealthy on a closed log: %v, want chain.ErrClosed", err)
	}
}

// countPings drains ns for d and counts WATCHDOG=1 messages.
func countPings(ns *notifySocket, d time.Duration) int {
	n := 0
	deadline := time.After(d)
	for {
		select {
		case m := <-ns.msgs:
			if strings.Contains(m, "WATCHDOG=1") {
				n++
			}
		case <-deadline:
			return n
		}
	}
}
