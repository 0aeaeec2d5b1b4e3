package seal

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// TestOpenReader seals and anchors a log, closes it, and reads it back as a
// tool does: a read-only chain.Log, a reader given only the verifier key.
// It sees the checkpoints, anchors, roots and proofs the sealer wrote.
func TestOpenReader(t *testing.T) {
	p := newTestPKI(t, true)
	tsa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, err := p.response(body, tsaGood)
		if err != nil { // not t.Fatal: this is the server's goroutine
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	defer tsa.Close()

	dir := t.TempDir()
	l := openLog(t, dir)
	cfg := testConfig(t)
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	anchored := make(chan *AnchorRecord, 64)
	a, err := NewAnchorer(context.Background(), s, AnchorConfig{
		TSAs:  []TSA{{URL: tsa.URL, Roots: p.roots()}},
		Every: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Window: time.Minute, Now: func() time.Time { return tokenTime }, Client: tsa.Client(),
		Signer:   chain.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32))),
		OnAnchor: func(r *AnchorRecord) { anchored <- r }, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var wantAnchors []uint64
	for _, wave := range []int{3, 400, 1, 650} {
		appendN(t, l, n, wave)
		n += wave
		if _, err := s.WaitCheckpoint(waitCtx(t), uint64(n)); err != nil {
			t.Fatal(err)
		}
		// Each wave's newest checkpoint anchored before the next wave.
		for r := range anchored {
			wantAnchors = append(wantAnchors, r.TreeSize)
			if r.TreeSize == uint64(n) {
				break
			}
		}
	}
	a.Shutdown(context.Background())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantSizes := storedCheckpoints(t, l.DB())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := chain.OpenReadOnly(context.Background(), dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	v, err := ParseVerifierKey(cfg.Key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(ro, testOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != uint64(n) {
		t.Fatalf("reader's tree size %d, want %d", r.Size(), n)
	}
	latest, err := r.Latest()
	if err != nil || latest.Size != uint64(n) {
		t.Fatalf("Latest: %v, %v", latest, err)
	}
	cps, err := r.Checkpoints(0, latest.Size+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != len(wantSizes) {
		t.Fatalf("%d checkpoints, %d stored", len(cps), len(wantSizes))
	}
	for i, c := range cps {
		if c.Size != wantSizes[i] {
			t.Fatalf("checkpoint %d has size %d, want %d", i, c.Size, wantSizes[i])
		}
		if root, err := r.TreeHash(c.Size); err != nil || root != c.Root {
			t.Fatalf("TreeHash(%d) = %s, %v; checkpoint says %s", c.Size, root, err, c.Root)
		}
	}
	// Half-open: [403, 404) holds exactly checkpoint 403 if stored.
	if sub, err := r.Checkpoints(403, 404); err != nil || len(sub) != 1 || sub[0].Size != 403 {
		t.Errorf("Checkpoints(403, 404) = %d checkpoints, %v", len(sub), err)
	}
	verifyAgainstCheckpoints(t, r, ro, cfg.Key.VerifierKey)
	// An inclusion proof checked the way a verifier does.
	rec, err := ro.Get(100)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := r.InclusionProof(100, latest.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(ip, int64(latest.Size), latest.Root, 100, LeafHash(rec.Hash)); err != nil {
		t.Fatal(err)
	}

	anchors, err := r.Anchors()
	if err != nil {
		t.Fatal(err)
	}
	if len(anchors) != len(wantAnchors) {
		t.Fatalf("%d anchors, %d stored (%v)", len(anchors), len(wantAnchors), wantAnchors)
	}
	for i, ar := range anchors {
		if ar.TreeSize != wantAnchors[i] || ar.AnchorTarget.Identifier != tsa.URL {
			t.Errorf("anchor %d: size %d by %s, want %d by %s", i, ar.TreeSize, ar.AnchorTarget.Identifier, wantAnchors[i], tsa.URL)
		}
		c, err := r.Checkpoint(ar.TreeSize)
		if err != nil || string(c.Note) != string(ar.Checkpoint) {
			t.Errorf("anchor %d: its note is not the stored checkpoint %d: %v", i, ar.TreeSize, err)
		}
	}

	// What a reader cannot do.
	if _, err := r.WaitCheckpoint(context.Background(), uint64(n)+1); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WaitCheckpoint beyond the stored tree: %v, want ErrReadOnly", err)
	}
	if _, err := NewAnchorer(context.Background(), r, AnchorConfig{TSAs: []TSA{{URL: tsa.URL, Roots: p.roots()}},
		Every: time.Second, MinBackoff: time.Second, MaxBackoff: time.Second, Window: time.Minute,
		Now: func() time.Time { return tokenTime }, Signer: chain.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("NewAnchorer on a reader: %v, want ErrReadOnly", err)
	}
	// The wrong key or origin is refused.
	other, _, err := GenerateKey(zeroReader{}, "someone.else")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReader(ro, testOrigin, other.Verifier); err == nil {
		t.Error("reader opened with another key's verifier")
	}
	if _, err := OpenReader(ro, "fixtap.test/other", v); err == nil {
		t.Error("reader opened with another origin")
	}
	if _, err := ParseVerifierKey("fixtap.test+00000000+AQ"); err == nil {
		t.Error("malformed verifier key accepted")
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }
