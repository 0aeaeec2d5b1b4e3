package main

// TestShutdownSIGTERM: SIGTERM during streaming → exit 0, the final
// checkpoint covers every durable event, the counterparty was sent a
// Logout, and a restart resumes the session's sequence numbers (no reset,
// no new epoch).
//
// Re-run: go test -run TestShutdownSIGTERM -v ./cmd/fixtap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// fixProxy forwards TCP connections to a tap and keeps every byte the tap
// sent, so a test can see the tap's session messages (its Logout).
type fixProxy struct {
	addr    string
	fromTap syncBuffer
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target string) *fixProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fixProxy{addr: l.Addr().String()}
	t.Cleanup(func() { l.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
			go func() { defer p.wg.Done(); io.Copy(io.MultiWriter(c, &p.fromTap), u); c.Close(); u.Close() }()
		}
	}()
	return p
}

func TestShutdownSIGTERM(t *testing.T) {
	bin := buildFixtap(t)
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port)
	f, err := tapconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ns := listenNotify(t)
	var stderr syncBuffer
	start := func() *exec.Cmd {
		stderr = syncBuffer{}
		cmd := exec.Command(bin, "run", "-config", cfgPath)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path)
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
		ns.await(t, "READY=1", 30*time.Second, stderr.String)
		return cmd
	}

	// 1. Stream through a proxy (to see the tap's bytes) and SIGTERM the tap
	// mid-stream.
	child := start()
	proxy := startProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	type result struct {
		st  loadgen.Stats
		err error
	}
	sent := make(chan result, 1)
	go func() {
		st, err := loadgen.Run(context.Background(), loadgen.Config{Addr: proxy.addr, BeginString: "FIX.4.4",
			SenderCompID: "BROKER", TargetCompID: "TAP", Count: 100000, Rate: 5000, ResetSeqNum: true, Seed: 7, Now: clock.Wall})
		sent <- result{st, err}
	}()
	time.Sleep(1500 * time.Millisecond)
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ns.await(t, "STOPPING=1", 10*time.Second, stderr.String)
	waitExit(t, child, 30*time.Second, stderr.String)
	var res result
	select {
	case res = <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("the sender did not notice the tap stop")
	}
	if res.err == nil || res.st.Sent == 0 || res.st.Sent >= 100000 {
		t.Fatalf("the sender should have been cut off mid-stream: sent %d, err %v", res.st.Sent, res.err)
	}
	if !bytes.Contains([]byte(proxy.fromTap.String()), []byte("\x0135=5\x01")) {
		t.Errorf("the tap sent no Logout before closing; its bytes:\n%q", proxy.fromTap.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"final checkpoint"`) {
		t.Errorf("no final checkpoint logged:\n%s", stderr.String())
	}

	// 2. The final checkpoint covers every durable event; the session's
	// next expected MsgSeqNum is one past the last one logged.
	size1, cp1, next, epoch := readTap(t, f)
	if cp1 != size1 {
		t.Fatalf("newest checkpoint covers %d events; the log holds %d", cp1, size1)
	}
	if next < 2 {
		t.Fatalf("nothing logged before SIGTERM (next expected %d)", next)
	}
	t.Logf("before SIGTERM: sender sent %d; the log holds %d events, checkpoint %d, next expected MsgSeqNum %d (epoch %d)", res.st.Sent, size1, cp1, next, epoch)

	// 3. Restart; the counterparty resumes without ResetSeqNum at the
	// MsgSeqNum the tap expects.
	child = start()
	const more = 500
	st2, err := loadgen.Run(context.Background(), loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4",
		SenderCompID: "BROKER", TargetCompID: "TAP", Count: more, StartSeq: int(next), Seed: 8, Now: clock.Wall})
	if err != nil {
		t.Fatalf("resumed sender: %v (stats %+v)\n%s", err, st2, stderr.String())
	}
	if st2.Resent != 0 || st2.GapFilled != 0 {
		t.Errorf("the tap asked for a resend after a clean stop: %+v", st2)
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, child, 30*time.Second, stderr.String)

	// 4. After the restart: no reset event, same epoch, and the first FIX
	// event is the Logon at exactly the MsgSeqNum the tap expected, followed
	// by the rest in order.
	size2, cp2, next2, epoch2 := readTap(t, f)
	if cp2 != size2 {
		t.Fatalf("after the restart: newest checkpoint covers %d events; the log holds %d", cp2, size2)
	}
	if epoch2 != epoch || next2 != int64(st2.NextSeq) {
		dumpTail(t, f, 6)
		t.Fatalf("after the restart: next expected %d epoch %d; want %d epoch %d", next2, epoch2, st2.NextSeq, epoch)
	}
	l, err := chain.OpenReadOnly(context.Background(), f.Tap.DataDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := next
	var app int
	if err := l.Range(size1, l.Durable(), func(r *chain.Record) error {
		e, err := r.Event()
		if err != nil {
			return err
		}
		if ts := e.Payload.TapSession; ts != nil {
			return fmt.Errorf("seq %d: a session reset/gap event after a clean restart: %+v", r.Seq, *ts)
		}
		fx := e.Payload.FIX
		if fx == nil || fx.MsgType == "" || unprocessed(e) {
			return nil
		}
		if want == next && fx.MsgType != "A" {
			return fmt.Errorf("seq %d: the first FIX event after the restart is 35=%s, want the Logon", r.Seq, fx.MsgType)
		}
		if fx.MsgSeqNum != want || fx.Epoch != epoch || fx.AheadOfSequence {
			return fmt.Errorf("seq %d: 35=%s MsgSeqNum %d epoch %d ahead %v; want MsgSeqNum %d epoch %d", r.Seq, fx.MsgType, fx.MsgSeqNum, fx.Epoch, fx.AheadOfSequence, want, epoch)
		}
		want++
		if fx.MsgType == "8" || fx.MsgType == "D" {
			app++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if app != more {
		t.Errorf("%d application events after the restart; sent %d", app, more)
	}
	l.Close()

	// 5. An auditor's view: export the whole log and verify it, MsgSeqNum
	// completeness included.
	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.Command(bin, "export", "-config", cfgPath, "-o", bundle).CombinedOutput(); err != nil {
		t.Fatalf("fixtap export: %v\n%s", err, out)
	}
	out, _ := exec.Command(bin, "verify", bundle, "-json").Output()
	var rep struct {
		TreeSize     uint64
		Completeness string
		Failures     []struct{ Layer, Check string }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("fixtap verify -json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(rep.Completeness, "checked") || rep.TreeSize != size2 {
		t.Errorf("bundle: tree size %d (log %d), completeness %q", rep.TreeSize, size2, rep.Completeness)
	}
	for _, fl := range rep.Failures {
		if fl.Layer != "anchor" { // no TSA is configured here
			t.Errorf("verify failure: %s/%s\n%s", fl.Layer, fl.Check, out)
		}
	}
}

// readTap opens the tap's data dir read-only and returns the log size, the
// newest checkpoint's size, and the one session's next expected MsgSeqNum
// and epoch, from its in-order FIX events and session-state events.
func readTap(t *testing.T, f *tapconfig.File) (size, checkpoint uint64, next, epoch int64) {
	t.Helper()
	r, err := openReader(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := r.log
	c, err := r.seal.Latest()
	if err != nil || c == nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	if err := l.Range(0, l.Durable(), func(r *chain.Record) error {
		e, err := r.Event()
		if err != nil {
			return err
		}
		if ts := e.Payload.TapSession; ts != nil {
			next, epoch = ts.NextExpected, ts.Epoch
		}
		fx := e.Payload.FIX
		if fx == nil || fx.MsgType == "" || fx.AheadOfSequence || unprocessed(e) {
			return nil
		}
		next, epoch = fx.MsgSeqNum+1, fx.Epoch
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return l.Durable(), c.Size, next, epoch
}

// unprocessed reports whether e holds bytes the engine did not accept
// (evidence, not a delivered MsgSeqNum). A Logout is an ERR_CONN event
// that was delivered.
func unprocessed(e *chain.Event) bool {
	if e.Payload.FIX != nil && e.Payload.FIX.Unprocessed {
		return true
	}
	ed := e.Payload.ErrorDetails
	return ed != nil && strings.HasPrefix(ed.ErrorMessage, "the engine")
}

func dumpTail(t *testing.T, f *tapconfig.File, n uint64) {
	l, err := chain.OpenReadOnly(context.Background(), f.Tap.DataDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Range(l.Durable()-n, l.Durable(), func(r *chain.Record) error {
		e, _ := r.Event()
		t.Logf("seq %d %s fix %+v ts %+v err %+v", r.Seq, e.Header.EventType, e.Payload.FIX, e.Payload.TapSession, e.Payload.ErrorDetails)
		return nil
	})
}
