package seal

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// storedCheckpoints lists the tree sizes of the stored checkpoints.
func storedCheckpoints(t *testing.T, db *pebble.DB) []uint64 {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{chain.PrefixCheckpt}, UpperBound: []byte{chain.PrefixCheckpt + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []uint64
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, binary.BigEndian.Uint64(it.Key()[1:]))
	}
	return out
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// verifyAgainstCheckpoints checks, with the independent verifier and the
// checkpoint key's public half only, every stored checkpoint: its signed
// note, inclusion proofs of events read back from the log, and consistency
// with the checkpoint before it.
func verifyAgainstCheckpoints(t *testing.T, s *Sealer, l *chain.Log, vkey string) {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	h := rfc6962.DefaultHasher
	sizes := storedCheckpoints(t, l.DB())
	if len(sizes) == 0 {
		t.Fatal("no checkpoints")
	}
	var prev *Checkpoint
	for _, sz := range sizes {
		c, err := s.Checkpoint(sz)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := OpenCheckpoint(c.Note, note.VerifierList(v))
		if err != nil {
			t.Fatalf("checkpoint %d does not verify with %s: %v", sz, vkey, err)
		}
		if c2.Size != sz || c2.Root != c.Root || c2.Origin != testOrigin {
			t.Fatalf("checkpoint %d reopens as %+v", sz, c2)
		}
		if sz > l.Durable() {
			t.Fatalf("checkpoint %d beyond the durable watermark %d", sz, l.Durable())
		}
		for _, seq := range []uint64{0, sz / 3, sz - 1} {
			rec, err := l.Get(seq)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.InclusionProof(seq, sz)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(h, seq, sz, h.HashLeaf(rec.Hash[:]), proofBytes(p), c.Root[:]); err != nil {
				t.Fatalf("event %d in checkpoint %d: %v", seq, sz, err)
			}
		}
		if prev != nil {
			p, err := s.ConsistencyProof(prev.Size, sz)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(h, prev.Size, sz, proofBytes(p), prev.Root[:], c.Root[:]); err != nil {
				t.Fatalf("checkpoints %d → %d: %v", prev.Size, sz, err)
			}
		}
		prev = c
	}
}

// TestSealerEndToEnd: events appended to a real chain.Log are sealed into
// checkpoints that an outside verifier accepts.
func TestSealerEndToEnd(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	cfg := testConfig(t)
	var hooked []uint64 // OnCheckpoint runs on the sealer's goroutine; read after Close
	cfg.OnCheckpoint = func(c *Checkpoint) { hooked = append(hooked, c.Size) }
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	n := 0
	for _, wave := range []int{1, 700, 2, 1100} {
		appendN(t, l, n, wave)
		n += wave
		c, err := s.WaitCheckpoint(ctx, uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != uint64(n) {
			t.Fatalf("checkpoint %d, want %d", c.Size, n)
		}
		if got := s.Size(); got > l.Durable() {
			t.Fatalf("tree %d beyond the durable watermark %d", got, l.Durable())
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if got := len(storedCheckpoints(t, l.DB())); got < 4 || len(hooked) != got || hooked[len(hooked)-1] != uint64(n) {
		t.Errorf("%d checkpoints, want at least one per wave; OnCheckpoint saw sizes %v", got, hooked)
	}
	verifyAgainstCheckpoints(t, s, l, cfg.Key.VerifierKey)
}

// TestSealerFollowsDurableWatermark: with the chain fsyncing only every
// 50ms, the tree and every checkpoint stay at or below the durable
// watermark while events pour in.
func TestSealerFollowsDurableWatermark(t *testing.T) {
	cfg := chain.DefaultConfig(t.TempDir())
	cfg.Durability = chain.SyncInterval
	cfg.SyncInterval = 50 * time.Millisecond
	cfg.SignWorkers = 1
	cfg.Logger = quietLogger()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	scfg := testConfig(t)
	scfg.Interval = 5 * time.Millisecond
	s, err := New(context.Background(), l, scfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 3000
	checks := 0
	for i := range n {
		if err := l.Append(ctx, chaintest.Entry(i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			// Read the sealer first: the watermark only grows.
			sz := s.Size()
			var cs uint64
			if c, err := s.Latest(); err == nil {
				cs = c.Size
			}
			if d := l.Durable(); sz > d || cs > d {
				t.Fatalf("tree %d, checkpoint %d, durable watermark %d", sz, cs, d)
			}
			checks++
		}
	}
	if _, err := s.WaitCheckpoint(waitCtx(t), n); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAgainstCheckpoints(t, s, l, scfg.Key.VerifierKey)
}

// TestSealerRestart: the sealer catches up from where it stopped, over a
// log reopened from disk, and its checkpoints stay consistent.
func TestSealerRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	l := openLog(t, dir)
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 500)
	if err := s.Close(); err != nil { // the last round seals all 500
		t.Fatal(err)
	}
	if c, err := s.Latest(); err != nil || c.Size != 500 {
		t.Fatalf("Latest after Close = %v, %v; want size 500", c, err)
	}
	appendN(t, l, 500, 700) // unsealed
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir)
	defer l.Close()
	s, err = New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Latest(); err != nil || c.Size < 500 {
		t.Fatalf("Latest after restart = %v, %v", c, err)
	}
	if _, err := s.WaitCheckpoint(waitCtx(t), 1200); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAgainstCheckpoints(t, s, l, cfg.Key.VerifierKey)
}

// TestSealerRefusesTruncatedLog: a stored tree larger than the log means
// sealed events are gone; the sealer will not start.
func TestSealerRefusesTruncatedLog(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	appendN(t, l, 0, 10)
	if err := l.DB().Set(keyTreeSize, binary.BigEndian.AppendUint64(nil, 15), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), l, testConfig(t))
	var te *TruncatedLogError
	if !errors.As(err, &te) || te.TreeSize != 15 || te.LogSize != 10 {
		t.Fatalf("New = %v, want *TruncatedLogError{15, 10}", err)
	}
}

// TestSealerRefusesInconsistentCheckpoint: the sealer never signs a tree
// that does not extend the latest signed checkpoint, whether it finds the
// fork at startup or when about to sign.
func TestSealerRefusesInconsistentCheckpoint(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	cfg := testConfig(t)
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 300)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 300, 50)

	// When about to sign: a (validly signed) checkpoint of size 100 with a
	// root this tree does not have.
	s, err = open(l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.extendAll(); err != nil {
		t.Fatal(err)
	}
	var bogus tlog.Hash
	bogus[0] = 1
	forged, err := signCheckpoint(cfg.Key, cfg.Origin, 100, bogus)
	if err != nil {
		t.Fatal(err)
	}
	s.latest = forged
	err = s.cut()
	var ie *InconsistentError
	if !errors.As(err, &ie) || ie.OldSize != 100 || ie.NewSize != 350 || ie.OldRoot != bogus {
		t.Fatalf("cut = %v, want *InconsistentError{100 → 350}", err)
	}
	if _, err := s.Checkpoint(350); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("a checkpoint was stored after the refusal: %v", err)
	}

	// At startup: the forged checkpoint stored as the latest.
	forged, err = signCheckpoint(cfg.Key, cfg.Origin, 320, bogus)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.DB().Set(checkpointKey(320), appendCheckpointRecord(nil, forged), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), l, cfg)
	if !errors.As(err, &ie) || ie.OldSize != 320 || ie.OldRoot != bogus {
		t.Fatalf("New = %v, want *InconsistentError at 320", err)
	}
}

// TestSealerRefusesWrongLeaf: a stored leaf that is not the leaf of the
// log's event is found at startup.
func TestSealerRefusesWrongLeaf(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	cfg := testConfig(t)
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 40)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var bad tlog.Hash
	if err := l.DB().Set(hashKey(tlog.StoredHashIndex(0, 39)), bad[:], pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), l, cfg)
	var le *LeafMismatchError
	if !errors.As(err, &le) || le.Seq != 39 || le.Stored != bad {
		t.Fatalf("New = %v, want *LeafMismatchError at 39", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig(t)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"NoOrigin":     func(c *Config) { c.Origin = "" },
		"NewlineInOri": func(c *Config) { c.Origin = "a\nb" },
		"NoKey":        func(c *Config) { c.Key = nil },
		"ZeroInterval": func(c *Config) { c.Interval = 0 },
		"SlowInterval": func(c *Config) { c.Interval = 2 * time.Second },
		"ZeroBatch":    func(c *Config) { c.MaxBatch = 0 },
	} {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

// TestSealerShutdownDeadline: a Shutdown whose deadline has passed cuts the
// last round short but still waits for the goroutine, and the tree it
// leaves is one a new sealer picks up.
func TestSealerShutdownDeadline(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	appendN(t, l, 0, 3000)
	cfg := testConfig(t)
	cfg.MaxBatch = 1 // a long catch-up
	s, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, errShutdownAborted) {
		t.Fatalf("Shutdown: %v", err)
	}
	cfg.MaxBatch = 1000
	s, err = New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitCheckpoint(waitCtx(t), 3000); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAgainstCheckpoints(t, s, l, cfg.Key.VerifierKey)
}
