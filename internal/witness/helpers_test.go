package witness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/testenv/witnesstest"
)

const testOrigin = "fixtap.test/witness"

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testKey returns the log's checkpoint key (Ed25519 seed = SHA-256(label)).
func testKey(t testing.TB, label string) *seal.Key {
	t.Helper()
	seed := sha256.Sum256([]byte(label))
	k, _, err := seal.GenerateKey(bytes.NewReader(seed[:]), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tap is a chain.Log and its Sealer in a temp dir, as fixtap runs them.
type tap struct {
	dir  string
	key  *seal.Key
	log  *chain.Log
	seal *seal.Sealer
	next int // index of the next event appendN writes
	base int // offset of event indexes: two taps with another base fork
}

// openTap opens a log in dir (a new temp dir if "") and starts its sealer,
// both closed at cleanup.
func openTap(t testing.TB, dir string, key *seal.Key, base int) *tap {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := chain.DefaultConfig(dir)
	cfg.Durability = chain.SyncInterval
	cfg.SyncInterval = 2 * time.Millisecond
	cfg.SignWorkers = 1
	cfg.Logger = quietLogger()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("chain.Open: %v", err)
	}
	scfg := seal.DefaultConfig(testOrigin, key)
	scfg.Interval = 20 * time.Millisecond
	scfg.Logger = quietLogger()
	s, err := seal.New(context.Background(), l, scfg)
	if err != nil {
		l.Close()
		t.Fatalf("seal.New: %v", err)
	}
	tp := &tap{dir: dir, key: key, log: l, seal: s, base: base, next: int(l.Durable())}
	t.Cleanup(tp.close)
	return tp
}

func (tp *tap) close() {
	if tp.seal != nil {
		tp.seal.Close()
		tp.seal = nil
	}
	if tp.log != nil {
		tp.log.Close()
		tp.log = nil
	}
}

// appendN appends n events and waits until a checkpoint covers them; it
// returns that checkpoint.
func (tp *tap) appendN(t testing.TB, n int) *seal.Checkpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range n {
		if err := tp.log.Append(ctx, chaintest.Entry(tp.base+tp.next)); err != nil {
			t.Fatalf("Append: %v", err)
		}
		tp.next++
	}
	cp, err := tp.seal.WaitCheckpoint(ctx, uint64(tp.next))
	if err != nil {
		t.Fatalf("WaitCheckpoint(%d): %v", tp.next, err)
	}
	return cp
}

// startWitness runs a litewitness that knows our origin and key.
func startWitness(t testing.TB, name string, key *seal.Key) *witnesstest.Witness {
	t.Helper()
	return witnesstest.Start(t, name, witnesstest.Log{Origin: testOrigin, VerifierKeys: []string{key.VerifierKey}})
}

// policyFor returns a policy over the witnesses (named w1, w2, … in the
// policy) ending with rules.
func policyFor(t testing.TB, rules string, ws ...*witnesstest.Witness) *cosign.Policy {
	t.Helper()
	var b strings.Builder
	for i, w := range ws {
		fmt.Fprintf(&b, "witness w%d %s %s\n", i+1, w.VerifierKey, w.URL)
	}
	b.WriteString(rules)
	p, err := cosign.ParsePolicy("test.policy", []byte(b.String()))
	if err != nil {
		t.Fatalf("policy: %v\n%s", err, b.String())
	}
	return p
}

// events records the Cosigner's callbacks.
type events struct {
	mu       sync.Mutex
	failures map[string][]error
	recovers map[string]int
	alarms   map[string][]error
	cosigned []uint64
	requests map[string]int
	oks      map[string]int // requests answered 200
	reqErrs  []error
	rtts     []time.Duration
}

func newEvents() *events {
	return &events{failures: map[string][]error{}, recovers: map[string]int{}, alarms: map[string][]error{}, requests: map[string]int{}, oks: map[string]int{}}
}

func (e *events) config(key *seal.Key) Config {
	cfg := DefaultConfig(key.Verifier, clock.Wall)
	cfg.Timeout = 2 * time.Second
	cfg.MinBackoff = 20 * time.Millisecond
	cfg.MaxBackoff = 200 * time.Millisecond
	cfg.Logger = quietLogger()
	cfg.OnFailure = func(w string, err error) { e.mu.Lock(); e.failures[w] = append(e.failures[w], err); e.mu.Unlock() }
	cfg.OnRecover = func(w string) { e.mu.Lock(); e.recovers[w]++; e.mu.Unlock() }
	cfg.OnAlarm = func(w string, err error) { e.mu.Lock(); e.alarms[w] = append(e.alarms[w], err); e.mu.Unlock() }
	cfg.OnCosigned = func(c *Cosigned) { e.mu.Lock(); e.cosigned = append(e.cosigned, c.Size); e.mu.Unlock() }
	cfg.OnRequest = func(w string, rtt time.Duration, err error) {
		e.mu.Lock()
		e.requests[w]++
		e.rtts = append(e.rtts, rtt)
		if err != nil {
			e.reqErrs = append(e.reqErrs, err)
		} else {
			e.oks[w]++
		}
		e.mu.Unlock()
	}
	return cfg
}

func (e *events) snapshot() (failures map[string]int, recovers map[string]int, alarms map[string]int, requests map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	failures, alarms, recovers, requests = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for k, v := range e.failures {
		failures[k] = len(v)
	}
	for k, v := range e.alarms {
		alarms[k] = len(v)
	}
	for k, v := range e.recovers {
		recovers[k] = v
	}
	for k, v := range e.requests {
		requests[k] = v
	}
	return
}

// startCosigner starts a Cosigner on tp, shut down at cleanup (before the
// tap closes: cleanups run last-in first-out).
func startCosigner(t testing.TB, tp *tap, p *cosign.Policy, cfg Config) *Cosigner {
	t.Helper()
	c, err := New(context.Background(), tp.log, tp.seal, p, cfg)
	if err != nil {
		t.Fatalf("witness.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return c
}

// waitCosigned waits until the Cosigner has published a checkpoint of at
// least size, and returns it.
func waitCosigned(t testing.TB, c *Cosigner, size uint64, within time.Duration) *Cosigned {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		cs, ch := c.Published()
		if cs != nil && cs.Size >= size {
			return cs
		}
		select {
		case <-ch:
		case <-deadline.C:
			got := uint64(0)
			if cs != nil {
				got = cs.Size
			}
			t.Fatalf("no cosigned checkpoint of size ≥ %d within %v (latest %d; err %v)", size, within, got, c.Err())
		}
	}
}

// waitFor polls cond every 10ms until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
	}
}

func mustVerifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := cosign.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newHTTPClient() *http.Client { return &http.Client{} }
