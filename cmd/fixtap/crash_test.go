package main

// TestTapKill9 proves the no-loss rule end to end: loadgen streams into a
// real `fixtap run` in a child process, which is SIGKILLed at random moments
// and restarted on the same data dir, 20 rounds per durability mode. The
// sender reconnects each time and resends what the tap asks for. At the end
// every MsgSeqNum the sender sent is in the log exactly once, in order, and
// the chain verifies from seq 0.
//
// Re-run: go test -run TestTapKill9 -v ./cmd/fixtap

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// TestTapChild is the child of TestTapKill9: it runs the tap until killed.
func TestTapChild(t *testing.T) {
	cfg := os.Getenv("FIXTAP_TAP_CHILD_CONFIG")
	if cfg == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{"run", "-config", cfg}, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
}

func TestTapKill9(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 4
	}
	for _, mode := range []string{"group", "interval"} {
		t.Run(mode, func(t *testing.T) { tapKill9(t, mode, rounds) })
	}
}

func tapKill9(t *testing.T, mode string, rounds int) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port)
	b, _ := os.ReadFile(cfg)
	b = bytes.Replace(b, []byte("Durability=group"), []byte("Durability="+mode+"\nDurabilityInterval=5ms"), 1)
	os.WriteFile(cfg, b, 0o644)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	var child *exec.Cmd
	var stderr bytes.Buffer
	start := func() {
		child = exec.Command(os.Args[0], "-test.run=^TestTapChild$")
		child.Env = append(os.Environ(), "FIXTAP_TAP_CHILD_CONFIG="+cfg)
		stderr.Reset()
		child.Stderr = &stderr
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if child != nil && child.ProcessState == nil {
			child.Process.Kill()
			child.Wait()
		}
	})
	start()

	// The sender runs throughout, reconnecting after every kill.
	const total = 40000
	type result struct {
		st  loadgen.Stats
		err error
	}
	sent := make(chan result, 1)
	go func() {
		st, err := loadgen.Run(context.Background(), loadgen.Config{
			Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP",
			Count: total, Rate: 5000, ResetSeqNum: true, Seed: seed, Now: clock.Wall,
			Reconnect: true, ReconnectTimeout: 30 * time.Second, ReconnectDelay: 50 * time.Millisecond,
		})
		sent <- result{st, err}
	}()
	for r := 0; r < rounds; r++ {
		time.Sleep(time.Duration(150+rng.IntN(450)) * time.Millisecond)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill: %v", r, err)
		}
		child.Wait()
		if ws := child.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
			t.Fatalf("round %d: the tap exited by itself (%v):\n%s", r, child.ProcessState, stderr.String())
		}
		start()
	}
	var res result
	select {
	case res = <-sent:
	case <-time.After(3 * time.Minute):
		t.Fatal("the sender did not finish")
	}
	if res.err != nil {
		t.Fatalf("sender: %v (stats %+v)\ntap stderr:\n%s", res.err, res.st, stderr.String())
	}
	child.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("tap after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		child.Process.Signal(syscall.SIGQUIT) // its goroutines, into stderr
		<-exited
		t.Fatalf("the tap did not shut down within 30 s of SIGTERM:\n%s", stderr.String())
	}

	lc := chain.DefaultConfig(filepath.Join(dir, "data"))
	lc.TailCheck = -1 // re-hash and re-link every record
	l, err := chain.Open(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The inbound MsgSeqNums in log order, the ones logged ahead of a gap,
	// and the ranges recorded as gap-filled (admin messages, such as Logons
	// lost with a killed tap, that a counterparty fills instead of resending).
	var inOrder, ahead []int64
	covered := map[int64]int{}
	aheadIn := map[int64]map[int64]bool{} // epoch → MsgSeqNums logged ahead of a gap
	var app int
	err = l.Range(0, l.Durable(), func(r *chain.Record) error {
		e, err := r.Event()
		if err != nil {
			return err
		}
		if ts := e.Payload.TapSession; ts != nil {
			if ts.NextExpected < ts.PrevNextExpected {
				return fmt.Errorf("seq %d: a reset back to %d; the sender never reset", r.Seq, ts.NextExpected)
			}
			// Never delivered: the range, less what the old epoch logged
			// ahead of the gap.
			for m := ts.PrevNextExpected; m < ts.NextExpected; m++ {
				if !aheadIn[ts.PrevEpoch][m] {
					covered[m]++
				}
			}
		}
		f := e.Payload.FIX
		if f == nil || f.MsgType == "" {
			return nil
		}
		if ed := e.Payload.ErrorDetails; ed != nil && strings.HasPrefix(ed.ErrorMessage, "the engine") {
			return nil // bytes the engine refused: evidence, not a delivered MsgSeqNum
		}
		if f.AheadOfSequence {
			ahead = append(ahead, f.MsgSeqNum)
			if aheadIn[f.Epoch] == nil {
				aheadIn[f.Epoch] = map[int64]bool{}
			}
			aheadIn[f.Epoch][f.MsgSeqNum] = true
		} else {
			inOrder = append(inOrder, f.MsgSeqNum)
		}
		covered[f.MsgSeqNum]++
		if f.MsgType == "8" || f.MsgType == "D" {
			app++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(inOrder); i++ {
		if inOrder[i] <= inOrder[i-1] {
			t.Fatalf("MsgSeqNum %d logged after %d: out of order or duplicated", inOrder[i], inOrder[i-1])
		}
	}
	last := int64(res.st.NextSeq - 1)
	for m := int64(1); m <= last; m++ {
		if covered[m] != 1 {
			l.Range(0, l.Durable(), func(r *chain.Record) error {
				e, _ := r.Event()
				if ts := e.Payload.TapSession; ts != nil && ts.PrevNextExpected <= m+2 && ts.NextExpected >= m-2 {
					t.Logf("seq %d reset %+v", r.Seq, *ts)
					for q := r.Seq - 3; q < r.Seq; q++ {
						rr, _ := l.Get(q)
						ee, _ := rr.Event()
						t.Logf("  before: seq %d %s %+v %+v", q, ee.Header.EventType, ee.Payload.FIX, ee.Payload.ErrorDetails)
					}
				}
				if f := e.Payload.FIX; f != nil && f.MsgSeqNum >= m-2 && f.MsgSeqNum <= m+2 {
					t.Logf("seq %d %s 35=%s 34=%d possdup=%v ahead=%v epoch=%d", r.Seq, e.Header.EventType, f.MsgType, f.MsgSeqNum, f.PossDupFlag, f.AheadOfSequence, f.Epoch)
				}
				return nil
			})
			t.Fatalf("MsgSeqNum %d accounted for %d times (want exactly once: logged, or inside a recorded gap fill)", m, covered[m])
		}
	}
	if app != total {
		perSeq := map[int64][]string{}
		l.Range(0, l.Durable(), func(r *chain.Record) error {
			e, _ := r.Event()
			if f := e.Payload.FIX; f != nil && (f.MsgType == "8" || f.MsgType == "D") {
				perSeq[f.MsgSeqNum] = append(perSeq[f.MsgSeqNum], fmt.Sprintf("log %d %s epoch %d ahead %v possdup %v err %+v", r.Seq, e.Header.EventType, f.Epoch, f.AheadOfSequence, f.PossDupFlag, e.Payload.ErrorDetails))
			}
			return nil
		})
		n := 0
		for m, v := range perSeq {
			if len(v) > 1 && n < 3 {
				t.Logf("MsgSeqNum %d: %v", m, v)
				n++
			}
		}
		t.Fatalf("%d application messages logged; the sender sent %d", app, total)
	}
	got := inOrder
	t.Logf("%s: %d rounds, %d MsgSeqNums logged in order + %d ahead of a gap, %d resent, %d connections, log size %d", mode, rounds, len(got), len(ahead), res.st.Resent, res.st.Connections, l.Durable())
}
