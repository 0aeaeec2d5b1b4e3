package monitor

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/replica"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/testenv/s3test"
)

// The end-to-end test: a real signed chain.Log sealed by a real
// seal.Sealer, replicated by the real replica.Replicator to two real
// versitygw servers, read by the monitor over HTTP as an outsider would.

const e2eOrigin = "fixtap.test/monitor-e2e"

// e2eTime is the log time of the first event: Monday 2026-03-02 14:00 UTC,
// inside the window "Mon-Fri 13:30-20:00 UTC".
var e2eTime = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

type e2eLog struct {
	log    *chain.Log
	sealer *seal.Sealer
	key    *seal.Key
	next   int
	at     time.Time // log time of the next event
}

func newE2ELog(t *testing.T) *e2eLog {
	seed := sha256.Sum256([]byte("monitor-e2e"))
	k, _, err := seal.GenerateKey(bytes.NewReader(seed[:]), e2eOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cfg := chain.DefaultConfig(filepath.Join(t.TempDir(), "db"))
	cfg.Durability = chain.SyncInterval
	cfg.SyncInterval = 2 * time.Millisecond
	cfg.SignWorkers = runtime.GOMAXPROCS(0)
	eseed := sha256.Sum256([]byte("monitor-e2e-events"))
	cfg.Signer = chain.NewSigner(ed25519.NewKeyFromSeed(eseed[:]))
	cfg.Logger = quiet
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := seal.DefaultConfig(e2eOrigin, k)
	sc.Interval = 20 * time.Millisecond
	sc.Logger = quiet
	s, err := seal.New(context.Background(), l, sc)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); l.Close() })
	return &e2eLog{log: l, sealer: s, key: k, at: e2eTime}
}

func (e *e2eLog) verifier(t *testing.T) note.Verifier {
	v, err := note.NewVerifier(e.key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// add appends n events step apart in log time — FIX-derived execution
// reports (Payload.FIX, raw bytes) or the tap's SNC clock snapshots — and
// waits until a checkpoint covers them.
func (e *e2eLog) add(t *testing.T, n int, fix bool, step time.Duration) uint64 {
	ctx := context.Background()
	for range n {
		ts := e.at.UnixNano()
		h := chain.Header{
			EventID:            fmt.Sprintf("01934e3a-7b2c-7f93-8f2a-%012x", e.next),
			TimestampInt:       strconv.FormatInt(ts, 10),
			TimestampISO:       e.at.UTC().Format("2006-01-02T15:04:05.000000000Z"),
			TimestampPrecision: chain.PrecisionNanosecond,
			ClockSyncStatus:    chain.NTPSynced,
			HashAlgo:           chain.HashAlgoSHA256,
		}
		var en chain.Entry
		if fix {
			raw := fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=8\x0134=%d\x0110=000\x01", e.next+1)
			sum := sha256.Sum256(raw)
			h.EventType, h.EventTypeCode, h.VenueID, h.Symbol = chain.EXE, 4, "XNAS", "AAPL"
			en = chain.Entry{Header: h, Raw: raw, Payload: chain.Payload{
				FIX: &chain.FIX{BeginString: "FIX.4.4", SessionID: "FIX.4.4:TAP->BROKER", MsgType: "8", MsgSeqNum: int64(e.next + 1), RawSHA256: hex.EncodeToString(sum[:])},
				Trade: &chain.Trade{OrderID: fmt.Sprintf("ORD-%08d", e.next), Side: "BUY", OrderType: "LIMIT",
					Price: "123.456789", Quantity: "100", Currency: "USD"}}}
		} else {
			h.EventType, h.EventTypeCode = chain.SNC, 101
			en = chain.Entry{Header: h, Payload: chain.Payload{Clock: &chain.Clock{Source: "NTP", MaxErrorNs: "1000000", SnapshotAgeMs: 100}}}
		}
		if err := e.log.Append(ctx, &en); err != nil {
			t.Fatalf("append %d: %v", e.next, err)
		}
		e.next++
		e.at = e.at.Add(step)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := e.sealer.WaitCheckpoint(wctx, uint64(e.next))
	if err != nil {
		t.Fatal(err)
	}
	return c.Size
}

type e2eStore struct {
	srv    *s3test.Server
	bucket string
	prefix string
}

func (s e2eStore) store(name string) replica.Store {
	return replica.Store{Name: name, Endpoint: s.srv.Endpoint, Region: s.srv.Region, Bucket: s.bucket, Prefix: s.prefix,
		AccessKeyID: s.srv.AccessKey, SecretAccessKey: s.srv.SecretKey, PathStyle: true}
}

func (s e2eStore) url() string { return s.srv.URL(s.bucket, s.prefix) }

func (s e2eStore) file(path string) string { return s.srv.ObjectFile(s.bucket, s.prefix+"/"+path) }

func startStore(t *testing.T, public bool) e2eStore {
	srv := s3test.Start(t)
	s := e2eStore{srv: srv, bucket: "replica", prefix: "fixtap/log1"}
	srv.CreateBucket(t, s.bucket)
	if public {
		srv.MakePublicRead(t, s.bucket)
	}
	return s
}

func startReplicator(t *testing.T, e *e2eLog, stores ...replica.Store) *replica.Replicator {
	cfg := replica.DefaultConfig()
	cfg.Stores = stores
	cfg.Quorum = len(stores)
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	cfg.RoundTimeout, cfg.RequestTimeout = 20*time.Second, 5*time.Second
	cfg.StepEntries = 1024
	cfg.Now = clock.Wall
	cfg.Logger = quiet
	r, err := replica.New(context.Background(), e.log, e.sealer, replica.SealerSource(e.sealer), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	return r
}

func waitDelivered(t *testing.T, r *replica.Replicator, size uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitDelivered(ctx, size); err != nil {
		t.Fatalf("%v; status %+v", err, r.Status())
	}
}

func flipFile(t *testing.T, path string, at int) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEndToEndReplicas(t *testing.T) {
	a, b := startStore(t, true), startStore(t, true)
	e := newE2ELog(t)
	r1 := startReplicator(t, e, a.store("a"), b.store("b"))
	n := e.add(t, 600, true, 100*time.Millisecond)
	waitDelivered(t, r1, n)

	clk := &fakeClock{t: e2eTime.Add(2 * time.Minute)}
	statePath := filepath.Join(t.TempDir(), "monitor.state")
	cfg := Config{
		Replicas: []string{a.url(), b.url()}, LogKey: e.verifier(t), StatePath: statePath,
		Windows: mustWindows(t, "Mon-Fri 13:30-20:00 UTC"), Full: true, Now: clk.Now, Logger: quiet,
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// 1. All checks pass, from index 0, on what the replicator wrote.
	rep := round(t, m)
	wantAllOK(t, rep)
	t.Logf("all ok:\n%s", rep)
	if x := want(t, rep, b.url(), CheckData, StatusOK); !strings.Contains(x.Detail, fmt.Sprintf("entries [0, %d)", n)) {
		t.Errorf("data: %s", x.Line())
	}
	n = e.add(t, 500, true, 100*time.Millisecond)
	waitDelivered(t, r1, n)
	clk.Advance(time.Minute)
	wantAllOK(t, round(t, m))

	// 2. Damage to replica b, each found by a monitor that checks every
	// object (-full), naming the object; replica a stays clean. Each is
	// undone before the next.
	fresh := func() *Report {
		c := cfg
		c.StatePath = ""
		mm, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		return round(t, mm)
	}
	for _, c := range []struct {
		path string
		at   int
		what string
	}{
		{layout.EntriesPath(1, 0), 2 + 17, "entry"},
		{layout.TilePath(0, 2, 0), 4000, "tile"},
		{eventsPath(0, 0), 200, "event"},
		{layout.EntriesPath(4, uint8(n%256)), 2, "entry"},
	} {
		f := b.file(c.path)
		flipFile(t, f, c.at)
		rep := fresh()
		want(t, rep, a.url(), CheckData, StatusOK)
		x := want(t, rep, b.url(), CheckData, StatusFail)
		var me *MismatchError
		if !errors.As(x.Err, &me) || me.What != c.what || !strings.Contains(me.URL, c.path) {
			t.Fatalf("flipped %s: %v", c.path, x.Err)
		}
		t.Logf("flipped byte: %s", x.Line())
		flipFile(t, f, c.at)
	}
	// A deleted tile.
	tile := layout.TilePath(0, 1, 0)
	saved, err := os.ReadFile(b.file(tile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b.file(tile)); err != nil {
		t.Fatal(err)
	}
	rep = fresh()
	x := want(t, rep, b.url(), CheckData, StatusFail)
	var fe *FetchError
	if !errors.As(x.Err, &fe) || !fe.NotFound() || !strings.HasSuffix(fe.URL, tile) {
		t.Fatalf("deleted %s: %v", tile, x.Err)
	}
	t.Logf("deleted tile: %s", x.Line())
	if err := os.WriteFile(b.file(tile), saved, 0o644); err != nil {
		t.Fatal(err)
	}
	// The incremental monitor's sweep finds damage to old data too.
	flipFile(t, b.file(layout.EntriesPath(0, 0)), 2)
	for k := 0; ; k++ {
		clk.Advance(time.Minute)
		rep := round(t, m)
		want(t, rep, a.url(), CheckData, StatusOK)
		x, _ := rep.Find(b.url(), CheckData)
		if x.Status == StatusOK && k < 2 { // the sweep's cursor comes round to bundle 0
			continue
		}
		if x.Status != StatusFail || !strings.Contains(x.Line(), "sweep") || !strings.Contains(x.Line(), "tile/entries/000") {
			t.Fatalf("sweep: %s", x.Line())
		}
		t.Logf("sweep: %s", x.Line())
		break
	}
	flipFile(t, b.file(layout.EntriesPath(0, 0)), 2)
	clk.Advance(time.Minute)
	wantAllOK(t, round(t, m))

	// 3. Replica b stuck: its replicator stops; a's carries on.
	if err := r1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	stuck := n
	r2 := startReplicator(t, e, a.store("a"))
	stale := false
	for range 7 {
		n = e.add(t, 100, true, 100*time.Millisecond)
		waitDelivered(t, r2, n)
		clk.Advance(10 * time.Minute)
		rep := round(t, m)
		want(t, rep, b.url(), CheckConsistent, StatusOK)
		x := want(t, rep, b.url(), CheckAgree, StatusWarn)
		if !strings.Contains(x.Detail, fmt.Sprintf("by %d entries", n-stuck)) {
			t.Errorf("behind: %s", x.Line())
		}
		want(t, rep, a.url(), CheckCadence, StatusOK)
		if age := rep.Replicas[1].Age; age <= time.Hour {
			want(t, rep, b.url(), CheckCadence, StatusOK)
			continue
		}
		t.Logf("behind: %s", x.Line())
		x = want(t, rep, b.url(), CheckCadence, StatusFail)
		var se *StaleError
		if !errors.As(x.Err, &se) || se.Size != int64(stuck) {
			t.Fatalf("stale: %v", x.Err)
		}
		t.Logf("stale: %s", x.Line())
		stale = true
		break
	}
	if !stale {
		t.Fatal("the stuck replica never went stale")
	}

	// 4. FIX goes silent in the trading window while the tap's SNC clock
	// events keep coming, one a minute: after 6 minutes, an alert.
	m2cfg := cfg
	m2cfg.Replicas, m2cfg.StatePath, m2cfg.Full = []string{a.url()}, filepath.Join(t.TempDir(), "m2.state"), false
	m2, err := New(m2cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.at = e.at.Add(time.Minute - 100*time.Millisecond)
	for i := 1; i <= 6; i++ {
		n = e.add(t, 1, false, time.Minute)
		waitDelivered(t, r2, n)
		clk.Advance(time.Minute)
		rep := round(t, m2)
		if i <= 5 {
			want(t, rep, LogWide, CheckSilence, StatusOK)
			continue
		}
		x := want(t, rep, LogWide, CheckSilence, StatusFail)
		var se *SilenceError
		if !errors.As(x.Err, &se) || se.Silence <= 5*time.Minute {
			t.Fatalf("silence: %v", x.Err)
		}
		t.Logf("silence: %s", x.Line())
		want(t, rep, a.url(), CheckData, StatusOK)
	}
}

// A private bucket: GETs signed with SigV4 read it; unsigned ones are
// refused, and the failure names the URL and the status.
func TestEndToEndSigV4(t *testing.T) {
	a := startStore(t, false)
	e := newE2ELog(t)
	r := startReplicator(t, e, a.store("a"))
	n := e.add(t, 300, true, 100*time.Millisecond)
	waitDelivered(t, r, n)
	clk := &fakeClock{t: e2eTime.Add(time.Minute)}
	cfg := Config{Replicas: []string{a.url()}, LogKey: e.verifier(t), Full: true, Now: clk.Now, Logger: quiet}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := want(t, round(t, m), a.url(), CheckCheckpoint, StatusFail)
	var fe *FetchError
	if !errors.As(x.Err, &fe) || fe.Status != 403 {
		t.Fatalf("unsigned: %v", x.Err)
	}
	t.Log(x.Line())
	env := map[string]string{"AWS_ACCESS_KEY_ID": a.srv.AccessKey, "AWS_SECRET_ACCESS_KEY": a.srv.SecretKey, "AWS_REGION": a.srv.Region}
	if cfg.SigV4, err = SigV4FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if m, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	// versitygw checks the signing time against its own clock: sign with
	// the wall clock, judge ages with the test's.
	m.f.now = clock.Wall
	rep := round(t, m)
	if !rep.OK() {
		t.Fatalf("signed:\n%s", rep)
	}
	t.Logf("signed:\n%s", rep)
	// Wrong credentials are refused.
	cfg.SigV4 = &SigV4{AccessKeyID: a.srv.AccessKey, SecretAccessKey: "wrong", Region: a.srv.Region}
	if m, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	m.f.now = clock.Wall
	x = want(t, round(t, m), a.url(), CheckCheckpoint, StatusFail)
	if !errors.As(x.Err, &fe) || fe.Status != 403 {
		t.Fatalf("wrong secret: %v", x.Err)
	}
}
