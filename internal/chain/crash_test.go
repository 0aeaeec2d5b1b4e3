package chain

// Crash tests of the log. They prove that an acknowledged event survives a
// crash — at its seq, with its EventID, exactly once — and that the log
// reopens after every crash with an intact, fully signed chain:
//
//   - TestKill9 re-executes this test binary as a child (TestKill9Child) that
//     appends from 8 goroutines and prints "ACK <seq> <EventID>" only after
//     the event's Done callback reported it durable; the parent SIGKILLs the
//     child at a random moment, reopens the same directory (TailCheck = -1)
//     and checks every ACK, the chain, the signatures and that no EventID is
//     stored twice. Rounds accumulate in one directory, so each recovery
//     starts from a recovered log. Both durability modes.
//   - TestPowerLoss cuts the power with Pebble's crashable in-memory FS:
//     vfs.MemFS.CrashClone, taken while appends are running, keeps only what
//     was fsync'd plus 0, 50 or 100 % of the unsynced blocks; every event
//     acknowledged before the clone must be in the clone.
//
// Re-run: go test -run 'TestKill9|TestPowerLoss' -v ./internal/chain
// The random seed is logged; FIXTAP_CRASH_SEED=<n> replays a seed (the
// moment a kill or clone lands still depends on the scheduler).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Environment of the kill -9 child.
const (
	crashEnvChild = "FIXTAP_KILL9_CHILD" // "1" in the child
	crashEnvDir   = "FIXTAP_KILL9_DIR"
	crashEnvMode  = "FIXTAP_KILL9_MODE" // "group" or "interval"
	crashEnvRound = "FIXTAP_KILL9_ROUND"
	crashEnvSeed  = "FIXTAP_CRASH_SEED" // replays a logged seed
)

// crashAppenders is the number of appending goroutines in every crash test.
const crashAppenders = 8

// Pace of each appending goroutine of the kill -9 child: bursts of
// crashBurst events every crashPause. Groups of up to a few hundred events
// are in flight when the kill lands, and the log — re-hashed and verified
// in full after every round — stays small enough for 2×20 rounds to run in
// well under a minute.
const (
	crashBurst = 16
	crashPause = 20 * time.Millisecond
)

// crashEventID is an EventID unique across rounds (or cycles), appending
// goroutines and their counters, in the UUID shape of testEntry's IDs.
func crashEventID(round, worker, i int) string {
	return fmt.Sprintf("01934e3a-%04x-7f93-%04x-%012x", round, worker, i)
}

// crashEntry is testEntry with a unique EventID.
func crashEntry(round, worker, i int) *Entry {
	e := testEntry(worker<<24 | i)
	e.Header.EventID = crashEventID(round, worker, i)
	return e
}

// crashSeed returns the test's random seed: FIXTAP_CRASH_SEED, or the clock.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashEnvSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashEnvSeed, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, crashEnvSeed, seed)
	return seed
}

// crashLogger keeps Pebble's info chatter out of the test output; warnings
// and errors go to stderr.
func crashLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// crashState is what a test knows about its log across crashes.
type crashState struct {
	size     uint64            // size at the last check
	headHash Hash              // EventHash of seq size-1 at the last check
	ids      map[string]uint64 // EventID → seq of every record below size
	sigs     [][64]byte        // the verified signature of every seq below size
}

// crashCheck checks a freshly reopened log and returns its size:
//   - every acknowledged event is at its seq with its EventID;
//   - from seq 0, seqs are dense, every EventHash recomputes and links to
//     its predecessor, and every record carries a valid signature of the
//     test key (after waiting for the re-signing of the tail);
//   - no EventID is stored twice;
//   - nothing an earlier check saw was lost or changed.
//
// Ed25519 verification dominates a pass over a growing log, so a record an
// earlier check verified is held to the signature bytes verified then (its
// EventHash is unchanged: the chain verifies from seq 0 and ends, at the
// old size, in the old head hash). With full set, verifyAll also checks
// every signature from scratch.
func crashCheck(t *testing.T, l *Log, pub ed25519.PublicKey, acked map[uint64]string, st *crashState, full bool) uint64 {
	t.Helper()
	size := l.Durable()
	if size < st.size {
		t.Fatalf("log shrank: size %d, was %d at the previous check", size, st.size)
	}
	if size < uint64(len(acked)) {
		t.Fatalf("log size %d < %d acknowledged events", size, len(acked))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.WaitSigned(ctx, size); err != nil {
		t.Fatalf("WaitSigned(%d): %v (signed %d)", size, err, l.Signed())
	}
	if st.ids == nil {
		st.ids = make(map[string]uint64)
	}
	keyID := KeyIDOf(pub)
	var prev Hash
	err := l.Range(0, size, func(r *Record) error {
		if r.Seq > 0 && r.Prev != prev {
			return &BrokenLinkError{Seq: r.Seq, What: "PrevHash", Stored: r.Prev, Want: prev}
		}
		if err := r.Check(); err != nil {
			return err
		}
		prev = r.Hash
		if !r.Signed {
			return fmt.Errorf("seq %d: no signature", r.Seq)
		}
		if r.KeyID != keyID {
			return fmt.Errorf("seq %d: KeyID %s, want %s", r.Seq, r.KeyID, keyID)
		}
		if r.Seq < st.size {
			if r.Seq == st.size-1 && r.Hash != st.headHash {
				return fmt.Errorf("seq %d: EventHash %s, was %s at the previous check: the old log changed", r.Seq, r.Hash, st.headHash)
			}
			if r.Signature != st.sigs[r.Seq] {
				return fmt.Errorf("seq %d: signature changed since the previous check", r.Seq)
			}
			return nil
		}
		if !VerifySignature(pub, r.Hash, r.Signature[:]) {
			return fmt.Errorf("seq %d: bad signature", r.Seq)
		}
		st.sigs = append(st.sigs, r.Signature)
		ev, err := r.Event()
		if err != nil {
			return err
		}
		id := ev.Header.EventID
		if first, dup := st.ids[id]; dup {
			return fmt.Errorf("duplicate EventID %s at seq %d and %d", id, first, r.Seq)
		}
		st.ids[id] = r.Seq
		return nil
	})
	if err != nil {
		t.Fatalf("verify log of %d records: %v", size, err)
	}
	if uint64(len(st.ids)) != size || uint64(len(st.sigs)) != size {
		t.Fatalf("%d distinct EventIDs, %d signatures in a log of %d records", len(st.ids), len(st.sigs), size)
	}
	if full {
		if n := verifyAll(t, l, pub); n != size {
			t.Fatalf("verifyAll checked %d records, log size %d", n, size)
		}
	}
	lost := 0
	for seq, id := range acked {
		got, ok := st.ids[id]
		switch {
		case !ok:
			if lost < 10 {
				t.Errorf("acknowledged event %s (seq %d) is missing; log size %d", id, seq, size)
			}
			lost++
		case got != seq:
			t.Errorf("event %s was acknowledged at seq %d but is stored at seq %d", id, seq, got)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged events lost", lost, len(acked))
	}
	if t.Failed() {
		t.FailNow()
	}
	st.headHash = prev
	st.size = size
	return size
}

// crashCloseOnFailure closes l if the test fails before closing it: the
// log's goroutines must not outlive the test.
func crashCloseOnFailure(t *testing.T, l *Log) {
	t.Cleanup(func() {
		if t.Failed() {
			_ = l.Close() // ErrClosed if it was closed
		}
	})
}

// crashMaxSeq returns the highest acknowledged seq, or -1.
func crashMaxSeq(acked map[uint64]string) int64 {
	m := int64(-1)
	for seq := range acked {
		m = max(m, int64(seq))
	}
	return m
}

// TestKill9Child is the child of TestKill9, not a test: without its
// environment it returns at once. It opens the log, appends from 8
// goroutines until it is killed, and writes "ACK <seq> <EventID>\n" to
// stdout for each event its Done callback reported durable.
func TestKill9Child(t *testing.T) {
	if os.Getenv(crashEnvChild) != "1" {
		return
	}
	die := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "kill9 child: "+format+"\n", args...)
		os.Exit(2)
	}
	mode, err := ParseDurability(os.Getenv(crashEnvMode))
	if err != nil {
		die("%v", err)
	}
	round, err := strconv.Atoi(os.Getenv(crashEnvRound))
	if err != nil {
		die("round: %v", err)
	}
	cfg := DefaultConfig(os.Getenv(crashEnvDir))
	cfg.Durability = mode
	cfg.Signer = NewSigner(testKey(t))
	cfg.Logger = crashLogger()
	cfg.Fatal = func(err error) { die("fatal: %v", err) }
	ctx := context.Background()
	l, err := Open(ctx, cfg)
	if err != nil {
		die("open: %v", err)
	}

	// Done runs on a log goroutine and must not block, so it only queues
	// the line; one printer writes whole lines, each in one Write.
	var (
		mu    sync.Mutex
		lines []byte
		wake  = make(chan struct{}, 1)
	)
	emit := func(line string) {
		mu.Lock()
		lines = append(lines, line...)
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		var buf []byte
		for range wake {
			mu.Lock()
			buf, lines = lines, buf[:0]
			mu.Unlock()
			for len(buf) > 0 {
				i := bytes.IndexByte(buf, '\n')
				if _, err := os.Stdout.Write(buf[:i+1]); err != nil {
					die("stdout: %v", err)
				}
				buf = buf[i+1:]
			}
		}
	}()
	for w := range crashAppenders {
		go func() {
			for i := 0; ; i++ {
				if i > 0 && i%crashBurst == 0 {
					time.Sleep(crashPause)
				}
				e := crashEntry(round, w, i)
				id := e.Header.EventID
				e.Done = func(seq uint64, _ Hash, err error) {
					if err != nil {
						emit(fmt.Sprintf("ERR %s %v\n", id, strings.ReplaceAll(err.Error(), "\n", " ")))
						return
					}
					if d := l.Durable(); seq >= d {
						emit(fmt.Sprintf("ERR %s: Done(seq %d) while the durable watermark is %d\n", id, seq, d))
						return
					}
					emit(fmt.Sprintf("ACK %d %s\n", seq, id))
				}
				if err := l.Append(ctx, e); err != nil {
					emit(fmt.Sprintf("ERR append %s: %v\n", id, strings.ReplaceAll(err.Error(), "\n", " ")))
					return
				}
			}
		}()
	}
	select {} // until SIGKILL
}

// kill9Result is what the parent read from one child.
type kill9Result struct {
	acked  map[uint64]string
	bad    []string // ERR lines, unparseable lines, ACKs that contradict each other
	stderr string
}

// TestKill9 SIGKILLs a child appending to the log at a random moment, then
// checks the recovered log; 20 rounds per durability mode (5 with -short)
// in one directory per mode.
func TestKill9(t *testing.T) {
	if os.Getenv(crashEnvChild) == "1" {
		return // never recurse from a child
	}
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	seed := crashSeed(t)
	for mi, mode := range []Durability{SyncPerGroup, SyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(mi)))
			dir := t.TempDir()
			pub := NewSigner(testKey(t)).Public()
			var st crashState
			var totalAcked int
			for round := range rounds {
				t0 := time.Now()
				res := kill9Round(t, dir, mode, round, 50*time.Millisecond+time.Duration(rng.Int64N(int64(350*time.Millisecond))))
				t1 := time.Now()
				for i, b := range res.bad {
					if i == 5 {
						t.Errorf("round %d: … %d more", round, len(res.bad)-i)
						break
					}
					t.Errorf("round %d: child: %s", round, b)
				}
				if len(res.bad) > 0 {
					t.Fatalf("round %d: child's stderr:\n%s", round, res.stderr)
				}
				cfg := DefaultConfig(dir)
				cfg.Durability = mode
				cfg.Signer = NewSigner(testKey(t))
				cfg.TailCheck = -1
				cfg.Logger = crashLogger()
				l, err := Open(context.Background(), cfg)
				if err != nil {
					t.Fatalf("round %d: reopen after kill -9: %v", round, err)
				}
				crashCloseOnFailure(t, l)
				before := st.size
				size := crashCheck(t, l, pub, res.acked, &st, round == rounds-1)
				if err := l.Close(); err != nil {
					t.Fatalf("round %d: close: %v", round, err)
				}
				totalAcked += len(res.acked)
				last := crashMaxSeq(res.acked)
				t.Logf("round %2d: %5d acked (seq ≤ %d), log size %6d (+%d), %4d events beyond the last ACK survived; child ran %v, recovery and checks %v",
					round, len(res.acked), last, size, size-before, int64(size)-1-last,
					t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
			}
			t.Logf("%d rounds, %d events acknowledged, final log size %d, 0 lost, 0 duplicates", rounds, totalAcked, st.size)
		})
	}
}

// kill9Round runs one child, kills it delay after its first ACK and
// returns what it acknowledged.
func kill9Round(t *testing.T, dir string, mode Durability, round int, delay time.Duration) kill9Result {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(),
		crashEnvChild+"=1",
		crashEnvDir+"="+dir,
		crashEnvMode+"="+mode.String(),
		crashEnvRound+"="+strconv.Itoa(round),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	res := kill9Result{acked: make(map[uint64]string)}
	firstACK := make(chan struct{})
	readDone := make(chan error, 1)
	go func() {
		br := bufio.NewReader(stdout)
		var once sync.Once
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				// A line cut by SIGKILL has no '\n': never parsed.
				if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
					err = nil
				}
				readDone <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "ACK" {
				res.bad = append(res.bad, fmt.Sprintf("unexpected output %q", line))
				continue
			}
			seq, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				res.bad = append(res.bad, fmt.Sprintf("bad ACK line %q", line))
				continue
			}
			if prev, dup := res.acked[seq]; dup {
				res.bad = append(res.bad, fmt.Sprintf("seq %d acknowledged twice: %s and %s", seq, prev, f[2]))
				continue
			}
			res.acked[seq] = f[2]
			once.Do(func() { close(firstACK) })
		}
	}()

	select {
	case <-firstACK:
		time.Sleep(delay)
	case <-readDone:
		// Stdout closed before any ACK: the child died by itself.
		waited = true
		err := cmd.Wait()
		t.Fatalf("round %d: child ended before its first ACK: %v; stderr:\n%s", round, err, stderr.Bytes())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-readDone
		waited = true
		_ = cmd.Wait()
		t.Fatalf("round %d: no ACK from the child in 60s; stderr:\n%s", round, stderr.Bytes())
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("round %d: SIGKILL: %v", round, err)
	}
	rerr := <-readDone
	waited = true
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the child ended by itself (%v, %v), not by SIGKILL; stderr:\n%s", round, cmd.ProcessState, err, stderr.Bytes())
	}
	if rerr != nil {
		t.Fatalf("round %d: read child stdout: %v", round, rerr)
	}
	res.stderr = stderr.String()
	return res
}

// TestPowerLoss cuts the power (vfs.MemFS.CrashClone) while appends are
// running and reopens the log on what the disk kept, 5 cycles per subtest,
// for each durability mode and share of unsynced blocks that survive.
func TestPowerLoss(t *testing.T) {
	seed := crashSeed(t)
	cycles := 5
	for mi, mode := range []Durability{SyncPerGroup, SyncInterval} {
		for _, pct := range []int{0, 50, 100} {
			t.Run(fmt.Sprintf("%s/unsynced=%d%%", mode, pct), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, uint64(mi*1000+pct)))
				powerLossCycles(t, rng, mode, pct, cycles)
			})
		}
	}
}

func powerLossCycles(t *testing.T, rng *rand.Rand, mode Durability, pct, cycles int) {
	pub := NewSigner(testKey(t)).Public()
	fs := vfs.NewCrashableMem()
	newCfg := func() Config {
		cfg := DefaultConfig("/db")
		cfg.FS = fs
		cfg.Durability = mode
		cfg.Signer = NewSigner(testKey(t))
		cfg.TailCheck = -1
		cfg.Logger = crashLogger()
		// The appenders run flat out: a short queue and small groups keep
		// several groups in flight at the cut, and the log small.
		cfg.QueueLen = 1024
		cfg.MaxBatch = 256
		return cfg
	}
	var (
		st    crashState
		acked map[uint64]string // acknowledged before the last crash
	)
	for cycle := 0; ; cycle++ {
		l, err := Open(context.Background(), newCfg())
		if err != nil {
			t.Fatalf("cycle %d: open after power loss: %v", cycle, err)
		}
		crashCloseOnFailure(t, l)
		before := st.size
		size := crashCheck(t, l, pub, acked, &st, cycle == cycles)
		if cycle > 0 {
			last := crashMaxSeq(acked)
			t.Logf("cycle %d: %5d acked before the cut (seq ≤ %d), log size %6d (+%d), %d events beyond the last ACK survived",
				cycle-1, len(acked), last, size, size-before, int64(size)-1-last)
		}
		if cycle == cycles {
			if err := l.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return
		}

		// Append from several goroutines until the power cut.
		var (
			mu     sync.Mutex
			got    = make(map[uint64]string)
			first  = make(chan struct{})
			once   sync.Once
			failed atomic.Bool
			nerr   atomic.Int32
		)
		// fail reports an error of an appender or a Done callback: the
		// first few, not one per event.
		fail := func(format string, args ...any) {
			failed.Store(true)
			if nerr.Add(1) <= 5 {
				t.Errorf(format, args...)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range crashAppenders {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					e := crashEntry(cycle, w, i)
					id := e.Header.EventID
					e.Done = func(seq uint64, _ Hash, err error) {
						if err != nil {
							fail("cycle %d: Done(%s): %v", cycle, id, err)
							return
						}
						if d := l.Durable(); seq >= d {
							fail("cycle %d: Done(%s, seq %d) while the durable watermark is %d", cycle, id, seq, d)
						}
						mu.Lock()
						if prev, dup := got[seq]; dup {
							fail("cycle %d: seq %d acknowledged twice: %s and %s", cycle, seq, prev, id)
						}
						got[seq] = id
						mu.Unlock()
						once.Do(func() { close(first) })
					}
					if err := l.Append(ctx, e); err != nil {
						if ctx.Err() != nil && errors.Is(err, context.Canceled) {
							return
						}
						fail("cycle %d: Append: %v", cycle, err)
						return
					}
				}
			})
		}
		select {
		case <-first:
		case <-time.After(30 * time.Second):
			cancel()
			wg.Wait()
			t.Fatalf("cycle %d: no acknowledgement in 30s", cycle)
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)

		// The power cut: only what was acknowledged before the clone must
		// survive; Done callbacks after it are not counted.
		mu.Lock()
		acked = make(map[uint64]string, len(got))
		for seq, id := range got {
			acked[seq] = id
		}
		mu.Unlock()
		crashed := fs.CrashClone(vfs.CrashCloneCfg{
			UnsyncedDataPercent: pct,
			RNG:                 rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		})

		cancel()
		wg.Wait()
		if err := l.Close(); err != nil {
			t.Fatalf("cycle %d: close of the original log: %v", cycle, err)
		}
		if failed.Load() {
			t.Fatalf("cycle %d: %d errors from appenders and Done callbacks", cycle, nerr.Load())
		}
		fs = crashed
	}
}
