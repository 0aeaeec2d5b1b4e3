package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// handedOut holds every port freePort has returned in this test binary.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a loopback port that was free a moment ago and that no
// earlier call returned: the kernel may hand the same ephemeral port to
// two probes in a row once the first is closed, which made a test's
// acceptor and metrics ports clash.
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("freePort: no unused port in 100 tries")
	return 0
}

// writeConfig makes a minimal, valid session file with one acceptor.
func writeConfig(t *testing.T, dir string, port int) string {
	t.Helper()
	key := filepath.Join(dir, "tap.key")
	priv, err := chain.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.WritePrivateKeyFile(key, priv); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "account.secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef-test-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "fixtap.cfg")
	text := fmt.Sprintf(`# test session file
[DEFAULT]
DataDir=%s
SigningKeyFile=%s
AccountSecretFile=%s
Durability=group
Tier=SILVER
PolicyID=test.fixtap:default
PolicyIssuer=fixtap tests
ClockSources=adjtimex
ConnectionType=acceptor
SocketAcceptHost=127.0.0.1
SocketAcceptPort=%d
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00

[SESSION]
BeginString=FIX.4.4
SenderCompID=TAP
TargetCompID=BROKER
`, filepath.Join(dir, "data"), key, secret, port)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, freePort(t))
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"run", "-config", cfg, "-check"}, &out, &errb); err != nil {
		t.Fatalf("check: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "ok: 1 sessions") {
		t.Fatalf("check output %q", out.String())
	}
	// A typo is refused naming file, line and key, with a suggestion.
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(b, []byte("HeartBtInt=30"), []byte("HeartBtIntt=30"), 1), 0o644)
	out.Reset()
	errb.Reset()
	err := run(context.Background(), []string{"run", "-config", cfg, "-check"}, &out, &errb)
	if err == nil || !strings.Contains(errb.String(), "fixtap.cfg:") || !strings.Contains(errb.String(), `"HeartBtInt"`) {
		t.Fatalf("typo: err %v, stderr %q", err, errb.String())
	}
}

// TestRunServes runs `fixtap run` in-process as ops would, streams a drop copy
// into it with loadgen, stops it like SIGTERM does, and reads the log.
func TestRunServes(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"run", "-config", cfg}, &out, &errb) }()
	var st loadgen.Stats
	var err error
	for try := 0; try < 50; try++ {
		st, err = loadgen.Run(context.Background(), loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port),
			BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP", Count: 2000, ResetSeqNum: true, Seed: 9, Now: clock.Wall})
		if err == nil || !strings.Contains(err.Error(), "dial") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatalf("loadgen: %v\nstderr:\n%s", err, errb.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	lc := chain.DefaultConfig(filepath.Join(dir, "data"))
	lc.TailCheck = -1
	l, err := chain.Open(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var app, snc int
	if err := l.Range(0, l.Durable(), func(r *chain.Record) error {
		e, err := r.Event()
		if err != nil {
			return err
		}
		if r.Signed == false {
			return fmt.Errorf("seq %d unsigned", r.Seq)
		}
		if f := e.Payload.FIX; f != nil && (f.MsgType == "8" || f.MsgType == "D") {
			app++
		}
		if e.Header.EventType == chain.SNC {
			snc++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if app != st.Sent || snc == 0 {
		t.Fatalf("%d application events for %d sent, %d SNC events", app, st.Sent, snc)
	}
	// The final checkpoint was cut at shutdown: stored under 'c' + size.
	it, err := l.DB().NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var last uint64
	for ok := it.SeekGE([]byte{chain.PrefixCheckpt}); ok && it.Key()[0] == chain.PrefixCheckpt; ok = it.Next() {
		if k := it.Key(); len(k) == 9 {
			last = binary.BigEndian.Uint64(k[1:])
		}
	}
	if last != l.Durable() {
		t.Fatalf("newest checkpoint covers %d events; the log holds %d with %d application events", last, l.Durable(), app)
	}
}

// TestDemo runs `fixtap demo` as a new user would: the built binary, as
// a subprocess. It must exit 0 with a VERIFIED verdict, and the bundle it
// wrote must verify again with `fixtap verify` (exit 0) with the keys and
// TSA root pinned from the demo dir.
func TestDemo(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fixtap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	out, err := exec.Command(bin, "demo", "-messages", "2000", "-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("fixtap demo: %v\n%s", err, out)
	}
	for _, want := range []string{"summary", "epoch 0", "epoch 1", "anchors", "the newest covers", "verdict       VERIFIED"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(bin, "verify", filepath.Join(dir, "bundle"), "-key", filepath.Join(dir, "tap.key.pub"),
		"-tsa-roots", filepath.Join(dir, "tsa-root.pem")).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("VERIFIED")) {
		t.Fatalf("fixtap verify of the demo's bundle: %v\n%s", err, out)
	}
}
