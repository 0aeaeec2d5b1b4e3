package seal

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// TestAnchorerOutage: one TSA is down for a while and another never comes
// up. Ingest goes on; each TSA reports one failure episode, however many
// retries; the first anchors the newest checkpoint once it is back, and
// the stored token verifies (and passes openssl ts -verify).
func TestAnchorerOutage(t *testing.T) {
	p := newTestPKI(t, true)
	var down atomic.Bool
	down.Store(true)
	var hits atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		resp, err := p.response(body, tsaGood)
		if err != nil { // not t.Fatal: this is the server's goroutine
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	defer flaky.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusBadGateway)
	}))
	defer dead.Close()

	l := openLog(t, t.TempDir())
	defer l.Close()
	s, err := New(context.Background(), l, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var mu sync.Mutex
	failures := map[string]int{}
	anchors := make(chan *AnchorRecord, 16)
	acfg := AnchorConfig{
		TSAs:       []TSA{{URL: flaky.URL, Roots: p.roots()}, {URL: dead.URL, Roots: p.roots()}},
		Every:      30 * time.Millisecond,
		MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Window:   time.Minute,
		Now:      func() time.Time { return tokenTime }, // the test TSA's genTime
		Client:   flaky.Client(),
		PolicyID: "org.example.tap:test",
		Signer:   chain.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32))),
		OnAnchor: func(r *AnchorRecord) { anchors <- r },
		OnFailure: func(url string, err error) {
			mu.Lock()
			failures[url]++
			mu.Unlock()
		},
		Logger: quietLogger(),
	}
	a, err := NewAnchorer(context.Background(), s, acfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())

	appendN(t, l, 0, 200)
	if _, err := s.WaitCheckpoint(waitCtx(t), 200); err != nil {
		t.Fatal(err)
	}
	// Let the down TSA be retried many times while ingest continues.
	for hits.Load() < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	appendN(t, l, 200, 300)
	c, err := s.WaitCheckpoint(waitCtx(t), 500)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-anchors:
		t.Fatalf("anchored %d while the TSA was down", r.TreeSize)
	default:
	}
	down.Store(false)
	// A retry already in flight when the TSA came back may anchor the
	// checkpoint it was sent for; the newest one must follow.
	var rec *AnchorRecord
	ctx := waitCtx(t)
	for rec == nil || rec.TreeSize < c.Size {
		select {
		case rec = <-anchors:
		case <-ctx.Done():
			if rec == nil {
				t.Fatal("no anchor after the TSA came back")
			}
			t.Fatalf("anchored %d, never the newest checkpoint (≥ %d)", rec.TreeSize, c.Size)
		}
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if failures[flaky.URL] != 1 || failures[dead.URL] != 1 {
		t.Errorf("failure episodes %v, want one per TSA", failures)
	}
	mu.Unlock()
	if hits.Load() < 5 {
		t.Errorf("%d requests to the flaky TSA, want retries", hits.Load())
	}

	stored, err := s.Anchor(rec.TreeSize, flaky.URL)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := s.Checkpoint(stored.TreeSize)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.Checkpoint) != string(cp.Note) || stored.AnchorTarget.Identifier != flaky.URL {
		t.Fatalf("stored anchor %+v does not match checkpoint %d", stored, cp.Size)
	}
	// A restarted anchorer keeps the stored token of the newest checkpoint
	// rather than asking again.
	before := hits.Load()
	a2, err := NewAnchorer(context.Background(), s, acfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := a2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c2, _ := s.Latest(); c2.Size == rec.TreeSize && hits.Load() != before {
		t.Errorf("restarted anchorer asked the TSA again (%d requests)", hits.Load()-before)
	}
	sig, _ := base64.StdEncoding.DecodeString(stored.Signature)
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if !chain.VerifySignature(pub, chain.Hash(cp.Root), sig) || stored.SignAlgo != "ED25519" {
		t.Errorf("anchor signature %q (%s) does not verify over the root", stored.Signature, stored.SignAlgo)
	}
	if stored.EventCount != stored.TreeSize || stored.FirstEventID != chaintest.Entry(0).Header.EventID ||
		stored.LastEventID != chaintest.Entry(int(stored.TreeSize-1)).Header.EventID {
		t.Errorf("anchor covers %d events %s … %s", stored.EventCount, stored.FirstEventID, stored.LastEventID)
	}
	tok, err := base64.StdEncoding.DecodeString(stored.AnchorTarget.Proof)
	if err != nil {
		t.Fatal(err)
	}
	opensslVerify(t, p, cp.Note, tok)
}

// FuzzDecodeAnchorRecord: the stored anchor decoder never panics, and what
// it accepts is a complete TSA anchor.
func FuzzDecodeAnchorRecord(f *testing.F) {
	f.Add([]byte("\x01{\"MerkleRoot\":\"00000000000000000000000000000000000000000000000000000000000000aa\",\"TreeSize\":5,\"Timestamp\":\"2026-11-21T12:00:00Z\",\"AnchorTarget\":{\"Type\":\"TSA\",\"Identifier\":\"http://tsa\",\"Proof\":\"AA==\"},\"EventCount\":5,\"Checkpoint\":\"AA==\"}"))
	f.Add([]byte("\x01{}"))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeAnchorRecord(b)
		if err != nil {
			return
		}
		if r.AnchorTarget.Type != "TSA" || r.TreeSize == 0 {
			t.Fatalf("accepted %+v", r)
		}
	})
}
