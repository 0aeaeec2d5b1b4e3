package replica

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/testenv/s3test"
)

const testOrigin = "fixtap.test/replica"

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testKey is a fixed checkpoint key named as the origin (Ed25519 seed =
// SHA-256("replica-test")).
func testKey(t testing.TB) *seal.Key {
	t.Helper()
	seed := sha256.Sum256([]byte("replica-test"))
	k, _, err := seal.GenerateKey(bytes.NewReader(seed[:]), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tlogEnv is a real signed chain.Log in a temp dir with its running Sealer.
type tlogEnv struct {
	dir    string
	log    *chain.Log
	sealer *seal.Sealer
	key    *seal.Key
	signer *chain.Signer
	next   int

	interval time.Duration
}

func newEnv(t testing.TB) *tlogEnv { return newEnvInterval(t, 20*time.Millisecond) }

// newEnvInterval is newEnv with the sealer's checkpoint interval.
func newEnvInterval(t testing.TB, interval time.Duration) *tlogEnv {
	t.Helper()
	e := &tlogEnv{dir: t.TempDir(), key: testKey(t), interval: interval}
	seed := sha256.Sum256([]byte("replica-test-events"))
	e.signer = chain.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	e.open(t)
	t.Cleanup(func() { e.close(t) })
	return e
}

func (e *tlogEnv) open(t testing.TB) {
	t.Helper()
	cfg := chain.DefaultConfig(filepath.Join(e.dir, "db"))
	cfg.Durability = chain.SyncInterval
	cfg.SyncInterval = 2 * time.Millisecond
	cfg.SignWorkers = runtime.GOMAXPROCS(0)
	cfg.Signer = e.signer
	cfg.Logger = quietLogger()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("chain.Open: %v", err)
	}
	sc := seal.DefaultConfig(testOrigin, e.key)
	sc.Interval = e.interval
	sc.Logger = quietLogger()
	s, err := seal.New(context.Background(), l, sc)
	if err != nil {
		l.Close()
		t.Fatalf("seal.New: %v", err)
	}
	e.log, e.sealer = l, s
	e.next = int(l.Committed())
}

func (e *tlogEnv) close(t testing.TB) {
	if e.log == nil {
		return
	}
	e.sealer.Close()
	e.log.Close()
	e.log = nil
}

// appendN appends n events and waits until a checkpoint covers them.
func (e *tlogEnv) appendN(t testing.TB, n int) uint64 {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := e.log.Append(ctx, chaintest.Entry(e.next)); err != nil {
			t.Fatalf("Append %d: %v", e.next, err)
		}
		e.next++
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := e.sealer.WaitCheckpoint(wctx, uint64(e.next))
	if err != nil {
		t.Fatalf("WaitCheckpoint %d: %v", e.next, err)
	}
	return c.Size
}

// testServer is a real versitygw with one public-read bucket.
type testServer struct {
	*s3test.Server
	bucket string
}

func startServer(t testing.TB, bucket string) *testServer {
	t.Helper()
	s := s3test.Start(t)
	s.CreateBucket(t, bucket)
	s.MakePublicRead(t, bucket)
	return &testServer{Server: s, bucket: bucket}
}

func (s *testServer) store(name, prefix string) Store {
	return Store{Name: name, Endpoint: s.Endpoint, Region: s.Region, Bucket: s.bucket, Prefix: prefix,
		AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey, PathStyle: true}
}

// fetcher reads the replica anonymously over HTTP, as any tlog-tiles
// client would.
func (s *testServer) fetcher(t testing.TB, prefix string) *client.HTTPFetcher {
	t.Helper()
	u, err := url.Parse(s.URL(s.bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	f, err := client.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// events records the replicator's callbacks.
type events struct {
	mu        sync.Mutex
	failures  map[string][]error
	recovers  map[string][]time.Duration
	alarms    map[string][]error
	changedCh chan struct{}
}

func newEvents() *events {
	return &events{failures: map[string][]error{}, recovers: map[string][]time.Duration{}, alarms: map[string][]error{}, changedCh: make(chan struct{}, 100)}
}

func (ev *events) hook(c *Config) {
	c.OnFailure = func(s string, err error) {
		ev.mu.Lock()
		ev.failures[s] = append(ev.failures[s], err)
		ev.mu.Unlock()
		ev.changedCh <- struct{}{}
	}
	c.OnRecover = func(s string, d time.Duration) {
		ev.mu.Lock()
		ev.recovers[s] = append(ev.recovers[s], d)
		ev.mu.Unlock()
		ev.changedCh <- struct{}{}
	}
	c.OnAlarm = func(s string, err error) {
		ev.mu.Lock()
		ev.alarms[s] = append(ev.alarms[s], err)
		ev.mu.Unlock()
		ev.changedCh <- struct{}{}
	}
}

func (ev *events) count(kind, store string) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	switch kind {
	case "failure":
		return len(ev.failures[store])
	case "recover":
		return len(ev.recovers[store])
	default:
		return len(ev.alarms[store])
	}
}

// waitFor waits until cond holds, failing the test after 60s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testConfig(stores ...Store) Config {
	cfg := DefaultConfig()
	cfg.Stores = stores
	cfg.MinBackoff = 20 * time.Millisecond
	cfg.MaxBackoff = 200 * time.Millisecond
	cfg.RoundTimeout = 20 * time.Second
	cfg.RequestTimeout = 5 * time.Second
	cfg.StepEntries = 1024
	cfg.Now = clock.Wall
	cfg.Logger = quietLogger()
	return cfg
}

func startReplicator(t testing.TB, e *tlogEnv, cfg Config) *Replicator {
	t.Helper()
	r, err := New(context.Background(), e.log, e.sealer, SealerSource(e.sealer), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	return r
}

func waitDelivered(t testing.TB, r *Replicator, size uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitDelivered(ctx, size); err != nil {
		t.Fatalf("%v; status %+v", err, r.Status())
	}
}

// merkleLeafHasher is the RFC 6962 bundle hasher tessera's fsck command
// uses (cmd/fsck defaultMerkleLeafHasher): parse a C2SP tlog-tiles entry
// bundle, hash each entry as a leaf.
func merkleLeafHasher(bundle []byte) ([][]byte, error) {
	eb := &api.EntryBundle{}
	if err := eb.UnmarshalText(bundle); err != nil {
		return nil, fmt.Errorf("unmarshal: %v", err)
	}
	r := make([][]byte, 0, len(eb.Entries))
	for _, e := range eb.Entries {
		h := rfc6962.DefaultHasher.HashLeaf(e)
		r = append(r, h[:])
	}
	return r, nil
}

func (e *tlogEnv) verifier(t testing.TB) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(e.key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
