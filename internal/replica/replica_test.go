package replica

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/export"
	"github.com/fixtap/fixtap/internal/seal"
)

// TestReplicasTwoStores: a few thousand events grown in uneven steps
// (partial bundles and tiles, a bundle growing across rounds, rounds of
// several steps) to two real S3 stores, Quorum 2. Each replica passes
// tessera's fsck; tessera's ProofBuilder builds inclusion proofs from it
// that verify against its checkpoint; its events bundles are byte for byte
// the export's events.jsonl and match the entries; every object has a
// receipt matching the stored bytes. Then a flipped byte and a deleted tile
// are caught by fsck and by Audit.
func TestReplicasTwoStores(t *testing.T) {
	e := newEnv(t)
	a, b := startServer(t, "replica-a"), startServer(t, "replica-b")
	stores := map[string]*testServer{"a": a, "b": b}
	prefixes := map[string]string{"a": "tap-1", "b": ""}
	cfg := testConfig(a.store("a", prefixes["a"]), b.store("b", prefixes["b"]))
	cfg.Quorum = 2
	ev := newEvents()
	ev.hook(&cfg)
	r := startReplicator(t, e, cfg)

	var size uint64
	for _, n := range []int{1, 300, 700, 2500, 1} {
		size = e.appendN(t, n)
		waitDelivered(t, r, size)
	}
	if size != uint64(e.next) {
		t.Fatalf("checkpoint size %d, appended %d", size, e.next)
	}
	for _, st := range r.Status() {
		if st.Delivered != size || st.Lag != 0 || st.Down || st.LastErr != nil {
			t.Errorf("status %+v, want delivered %d", st, size)
		}
	}
	for _, name := range []string{"a", "b"} {
		if n := ev.count("failure", name) + ev.count("alarm", name); n != 0 {
			t.Fatalf("store %s: %d failures/alarms: %v %v", name, n, ev.failures, ev.alarms)
		}
	}

	ctx := context.Background()
	exported := exportEvents(t, e)
	for name, srv := range stores {
		t.Run("store "+name, func(t *testing.T) {
			f := srv.fetcher(t, prefixes[name])
			if err := fsck.New(testOrigin, e.verifier(t), f, merkleLeafHasher, fsck.Opts{N: 2}).Check(ctx); err != nil {
				t.Fatalf("fsck: %v", err)
			}
			checkProofs(t, e, f, size)
			checkEvents(t, srv, prefixes[name], f, size, exported)
			checkReceipts(t, r, srv, name, prefixes[name])
		})
	}

	// Tamper behind the stores' backs: detected.
	flip := a.ObjectFile(a.bucket, "tap-1/tile/0/000")
	data, err := os.ReadFile(flip)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 1
	if err := os.WriteFile(flip, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b.ObjectFile(b.bucket, "tile/0/001")); err != nil {
		t.Fatal(err)
	}
	for name, srv := range stores {
		err := fsck.New(testOrigin, e.verifier(t), srv.fetcher(t, prefixes[name]), merkleLeafHasher, fsck.Opts{N: 2}).Check(ctx)
		if err == nil {
			t.Errorf("store %s: fsck passed a tampered replica", name)
		}
		var found []*AuditError
		n, err := r.Audit(ctx, name, func(ae *AuditError) { found = append(found, ae) })
		if err != nil || n == 0 {
			t.Fatalf("Audit %s: %d checked, %v", name, n, err)
		}
		if len(found) != 1 {
			t.Fatalf("Audit %s found %v, want one", name, found)
		}
		switch ae := found[0]; name {
		case "a":
			if ae.Key != "tap-1/tile/0/000" || ae.Missing || ae.GotSHA256 == ae.Receipt.SHA256 {
				t.Errorf("Audit a: %v", ae)
			}
		case "b":
			if ae.Key != "tile/0/001" || !ae.Missing {
				t.Errorf("Audit b: %v", ae)
			}
		}
	}
}

// exportEvents returns events.jsonl of a full export of the log.
func exportEvents(t *testing.T, e *tlogEnv) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	src := &export.Source{Log: e.log, Seal: e.sealer, Origin: testOrigin, ManifestSigner: e.key.Signer,
		CheckpointVKey: e.key.VerifierKey, EventKeys: []ed25519.PublicKey{e.signer.Public()}}
	if _, err := export.WriteDir(context.Background(), src, export.Request{All: true}, dir); err != nil {
		t.Fatalf("export: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openCheckpoint reads and verifies a replica's checkpoint.
func openCheckpoint(t *testing.T, e *tlogEnv, f *client.HTTPFetcher) (uint64, [32]byte) {
	t.Helper()
	raw, err := f.ReadCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(e.verifier(t)))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	_, size, root, err := seal.ParseCheckpointText([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	return size, root
}

// checkProofs builds inclusion proofs with tessera's ProofBuilder from the
// replica alone and verifies them against its checkpoint's root.
func checkProofs(t *testing.T, e *tlogEnv, f *client.HTTPFetcher, want uint64) {
	t.Helper()
	ctx := context.Background()
	size, root := openCheckpoint(t, e, f)
	if size != want {
		t.Fatalf("replica checkpoint size %d, want %d", size, want)
	}
	pb, err := client.NewProofBuilder(ctx, size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{0, 1, 255, 256, 1000, size / 2, size - 2, size - 1} {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i/bundleWidth, size)
		if err != nil {
			t.Fatalf("entry bundle of %d: %v", i, err)
		}
		entry := bundle.Entries[i%bundleWidth]
		if rec, err := e.log.Get(i); err != nil || !bytes.Equal(entry, rec.Hash[:]) {
			t.Fatalf("entry %d = %x, log's EventHash %x (%v)", i, entry, rec.Hash, err)
		}
		p, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatalf("inclusion proof %d: %v", i, err)
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(entry)
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, leaf, p, root[:]); err != nil {
			t.Fatalf("inclusion of %d in %d: %v", i, size, err)
		}
		// A wrong leaf must not verify (the check can fail).
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, rfc6962.DefaultHasher.HashLeaf(append(entry[:31:31], entry[31]^1)), p, root[:]); err == nil {
			t.Fatalf("inclusion of a wrong leaf at %d verified", i)
		}
	}
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}

// checkEvents reads the replica's events bundles: together they are the
// export's events.jsonl, and each line's EventHash is the entry at its
// index.
func checkEvents(t *testing.T, srv *testServer, prefix string, f *client.HTTPFetcher, size uint64, exported []byte) {
	t.Helper()
	ctx := context.Background()
	var all []byte
	for k := uint64(0); k*bundleWidth < size; k++ {
		evb := httpGet(t, srv.URL(srv.bucket, prefix)+EventsPath(k, width(k, size)))
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, k, size)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(evb), "\n")
		if lines[len(lines)-1] != "" || len(lines)-1 != len(bundle.Entries) {
			t.Fatalf("events bundle %d: %d lines for %d entries", k, len(lines)-1, len(bundle.Entries))
		}
		for i, line := range lines[:len(lines)-1] {
			var ev struct {
				Security struct {
					EventHash   string
					MerkleIndex uint64
				}
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("events bundle %d line %d: %v", k, i, err)
			}
			h, _ := hex.DecodeString(ev.Security.EventHash)
			if !bytes.Equal(h, bundle.Entries[i]) || ev.Security.MerkleIndex != k*bundleWidth+uint64(i) {
				t.Fatalf("events bundle %d line %d: EventHash %s, index %d; entry %x", k, i, ev.Security.EventHash, ev.Security.MerkleIndex, bundle.Entries[i])
			}
		}
		all = append(all, evb...)
	}
	if !bytes.Equal(all, exported) {
		t.Fatalf("the events bundles (%d bytes) are not the export's events.jsonl (%d bytes)", len(all), len(exported))
	}
}

// checkReceipts: every object in the store has a receipt whose SHA-256 is
// the object's, with the store's ETag, request id, Date and echoed
// checksum; every receipt's object exists.
func checkReceipts(t *testing.T, r *Replicator, srv *testServer, name, prefix string) {
	t.Helper()
	last := map[string]Receipt{}
	err := r.Receipts(name, func(rc Receipt) error {
		if rc.Store != name || rc.Endpoint != srv.Endpoint || rc.Bucket != srv.bucket || rc.ETag == "" || rc.RequestID == "" || rc.TreeSize == 0 {
			t.Errorf("receipt %+v", rc)
		}
		if _, err := http.ParseTime(rc.Date); err != nil {
			t.Errorf("receipt %s: Date %q: %v", rc.Key, rc.Date, err)
		}
		sum, _ := hex.DecodeString(rc.SHA256)
		if !rc.Existing && rc.ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum) {
			t.Errorf("receipt %s: echoed checksum %q, SHA-256 %s", rc.Key, rc.ChecksumSHA256, rc.SHA256)
		}
		last[rc.Key] = rc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	root := srv.ObjectFile(srv.bucket, prefix)
	files := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		files++
		rel, _ := filepath.Rel(filepath.Join(srv.Dir, srv.bucket), p)
		key := filepath.ToSlash(rel)
		rc, ok := last[key]
		if !ok {
			t.Errorf("object %s has no receipt", key)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != rc.SHA256 || int64(len(b)) != rc.Size {
			t.Errorf("object %s: SHA-256 %x (%d bytes), receipt %s (%d)", key, h, len(b), rc.SHA256, rc.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store %s: %d objects, each with its receipt", name, files)
	if files != len(last) || files < 10 {
		t.Errorf("%d objects, %d keys with receipts", files, len(last))
	}
}

// TestConflict: an object under one of our keys with other bytes is never
// overwritten: a *ConflictError through OnAlarm, that store stops, the
// other carries on.
func TestConflict(t *testing.T) {
	e := newEnv(t)
	a, b := startServer(t, "conflict-a"), startServer(t, "conflict-b")
	junk := []byte("someone else's bundle")
	key := layout.EntriesPath(0, 0)
	if _, err := a.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(key), Body: bytes.NewReader(junk)}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(a.store("a", ""), b.store("b", ""))
	ev := newEvents()
	ev.hook(&cfg)
	r := startReplicator(t, e, cfg)
	size := e.appendN(t, 300)
	waitDelivered(t, r, size)
	waitFor(t, "the alarm", func() bool { return ev.count("alarm", "a") == 1 })
	ev.mu.Lock()
	var ce *ConflictError
	ok := errors.As(ev.alarms["a"][0], &ce)
	ev.mu.Unlock()
	if !ok || ce.Store != "a" || ce.Key != key {
		t.Fatalf("alarm %v, want a *ConflictError on %s", ev.alarms["a"], key)
	}
	if h := sha256.Sum256(junk); ce.GotSHA256 != hex.EncodeToString(h[:]) || ce.GotSize != int64(len(junk)) {
		t.Errorf("conflict %+v: want the junk's SHA-256", ce)
	}
	if got := a.ReadObjectFile(t, a.bucket, key); !bytes.Equal(got, junk) {
		t.Errorf("the conflicting object was overwritten: %q", got)
	}
	size = e.appendN(t, 100)
	waitDelivered(t, r, size)
	st := r.Status()
	if !st[0].Stopped || !st[0].Down || !errors.As(st[0].LastErr, &ce) || st[0].Delivered >= size || st[0].Lag == 0 {
		t.Errorf("store a status %+v", st[0])
	}
	if st[1].Down || st[1].Delivered != size {
		t.Errorf("store b status %+v", st[1])
	}
	if ev.count("failure", "a") != 0 || ev.count("alarm", "a") != 1 {
		t.Errorf("failures %v, alarms %v", ev.failures, ev.alarms)
	}
}

// TestOutage: a store stopped mid-run; Quorum 1 of 2, so delivery goes on;
// ingest does not wait; one OnFailure for the episode, however many
// retries; after the restart it catches up and OnRecover is called.
func TestOutage(t *testing.T) {
	e := newEnv(t)
	a, b := startServer(t, "outage-a"), startServer(t, "outage-b")
	cfg := testConfig(a.store("a", ""), b.store("b", ""))
	ev := newEvents()
	ev.hook(&cfg)
	r := startReplicator(t, e, cfg)
	size1 := e.appendN(t, 500)
	waitFor(t, "both stores", func() bool { st := r.Status(); return st[0].Delivered == size1 && st[1].Delivered == size1 })

	b.Stop(t)
	start := time.Now()
	size2 := e.appendN(t, 3000)
	ingest := time.Since(start)
	waitDelivered(t, r, size2)
	waitFor(t, "the failure report", func() bool { return ev.count("failure", "b") == 1 })
	time.Sleep(4 * cfg.MaxBackoff) // several more retries
	st := r.Status()[1]
	if !st.Down || st.Since.IsZero() || st.LastErr == nil || st.Delivered != size1 || st.Lag != size2-size1 {
		t.Errorf("store b while down: %+v (delivered before %d, now %d)", st, size1, size2)
	}
	if n := ev.count("failure", "b"); n != 1 {
		t.Errorf("%d failure reports for one outage, want 1", n)
	}
	t.Logf("3000 events appended and sealed in %v with store b down", ingest)

	b.Restart(t)
	waitFor(t, "store b to catch up", func() bool { return r.Status()[1].Delivered == size2 })
	waitFor(t, "the recovery report", func() bool { return ev.count("recover", "b") == 1 })
	if st := r.Status()[1]; st.Down || st.LastErr != nil || st.Lag != 0 {
		t.Errorf("store b after recovery: %+v", st)
	}
	if ev.count("failure", "b") != 1 || ev.count("failure", "a")+ev.count("alarm", "a")+ev.count("alarm", "b") != 0 {
		t.Errorf("failures %v, alarms %v", ev.failures, ev.alarms)
	}
	if err := fsck.New(testOrigin, e.verifier(t), b.fetcher(t, ""), merkleLeafHasher, fsck.Opts{N: 2}).Check(context.Background()); err != nil {
		t.Fatalf("fsck of the caught-up store: %v", err)
	}
}

// TestQuorumStall: Quorum 2 of 2 with one store down: Delivered stays at
// the last size both hold while the other store moves on; after the
// restart it advances.
func TestQuorumStall(t *testing.T) {
	e := newEnv(t)
	a, b := startServer(t, "quorum-a"), startServer(t, "quorum-b")
	cfg := testConfig(a.store("a", ""), b.store("b", ""))
	cfg.Quorum = 2
	r := startReplicator(t, e, cfg)
	size1 := e.appendN(t, 400)
	waitDelivered(t, r, size1)
	b.Stop(t)
	size2 := e.appendN(t, 600)
	waitFor(t, "store a", func() bool { return r.Status()[0].Delivered == size2 })
	time.Sleep(200 * time.Millisecond)
	if d, st := r.Delivered(), r.Status(); d != size1 || st[1].Delivered != size1 {
		t.Errorf("Delivered %d with store b down (status %+v), want %d", d, st, size1)
	}
	b.Restart(t)
	waitDelivered(t, r, size2)
}

// TestRepeatAfterCrash: the state lost back to nothing (as after a crash
// before any step was stored) makes the replicator write every object
// again: each one is found in place with the same bytes (a receipt marked
// Existing), no alarm. A checkpoint object rolled back behind our back is
// reported at start (*CheckpointError), not fixed.
func TestRepeatAfterCrash(t *testing.T) {
	e := newEnv(t)
	a := startServer(t, "crash-a")
	cfg := testConfig(a.store("a", "p"))
	ev := newEvents()
	ev.hook(&cfg)
	r := startReplicator(t, e, cfg)
	first := e.appendN(t, 100)
	waitDelivered(t, r, first)
	firstNote := a.ReadObjectFile(t, a.bucket, "p/checkpoint")
	size := e.appendN(t, 700)
	waitDelivered(t, r, size)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n1 int
	r.Receipts("a", func(Receipt) error { n1++; return nil })

	// The checkpoint object rolled back: reported at start.
	if err := os.WriteFile(a.ObjectFile(a.bucket, "p/checkpoint"), firstNote, 0o644); err != nil {
		t.Fatal(err)
	}
	r = startReplicator(t, e, cfg)
	waitFor(t, "the rollback alarm", func() bool { return ev.count("alarm", "a") == 1 })
	var ce *CheckpointError
	if ev.mu.Lock(); !errors.As(ev.alarms["a"][0], &ce) || ce.Size != first || ce.Delivered != size {
		t.Fatalf("alarm %v, want a *CheckpointError of size %d", ev.alarms["a"], first)
	}
	ev.mu.Unlock()
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Lose the state.
	if err := e.log.DB().Delete(stateKey(storeID("a")), nil); err != nil {
		t.Fatal(err)
	}
	r = startReplicator(t, e, cfg)
	waitDelivered(t, r, size)
	var fresh, existing int
	i := 0
	err := r.Receipts("a", func(rc Receipt) error {
		if i++; i <= n1 {
			return nil
		}
		if rc.Existing {
			existing++
		} else if rc.Key != "p/checkpoint" {
			fresh++
		}
		return nil
	})
	if err != nil || existing < 10 || fresh != 0 {
		t.Errorf("after the lost state: %d objects found in place, %d written anew (%v)", existing, fresh, err)
	}
	if got := a.ReadObjectFile(t, a.bucket, "p/checkpoint"); bytes.Equal(got, firstNote) {
		t.Error("the checkpoint object was not written again")
	}
	if ev.count("alarm", "a") != 1 || ev.count("failure", "a") != 0 {
		t.Errorf("failures %v, alarms %v", ev.failures, ev.alarms)
	}
}

// TestShutdownDeliversLast: shut down after the sealer, the replicator
// makes a last round to the sealer's last checkpoint.
func TestShutdownDeliversLast(t *testing.T) {
	e := newEnv(t)
	a := startServer(t, "last-a")
	r := startReplicator(t, e, testConfig(a.store("a", "")))
	ctx := context.Background()
	for range 700 {
		if err := e.log.Append(ctx, chaintest.Entry(e.next)); err != nil {
			t.Fatal(err)
		}
		e.next++
	}
	if err := e.log.WaitDurable(ctx, uint64(e.next)); err != nil {
		t.Fatal(err)
	}
	if err := e.sealer.Close(); err != nil {
		t.Fatal(err)
	}
	last, err := e.sealer.Latest()
	if err != nil || last.Size != uint64(e.next) {
		t.Fatalf("sealer's last checkpoint %v, %v; want size %d", last, err, e.next)
	}
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := r.Delivered(); d != last.Size {
		t.Fatalf("delivered %d after Shutdown, want %d", d, last.Size)
	}
	if got := a.ReadObjectFile(t, a.bucket, "checkpoint"); !bytes.Equal(got, last.Note) {
		t.Fatalf("checkpoint object %q, want the last note", got)
	}
	if err := r.Shutdown(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestPutKeyEscaping: the PUT under a prefix with characters SigV4 wants
// percent-encoded (space, '+', '=', '(', non-ASCII) is accepted by the
// store and lands under exactly that key; repeated, it is read back as the
// same bytes (Existing); with other bytes it is a *ConflictError and the
// object is unchanged.
func TestPutKeyEscaping(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, "escape")
	prefix := "tap +1=x/ü~(a)"
	b := newBucket(s.store("a", prefix), 5*time.Second, 2)
	o := newObject("tile/0/x001/002.p/7", []byte("the bytes"), typeTile)
	rc, err := b.put(ctx, o, 7)
	if err != nil {
		t.Fatal(err)
	}
	key := prefix + "/tile/0/x001/002.p/7"
	if rc.Key != key || rc.Existing || rc.ETag == "" || rc.RequestID == "" || rc.Date == "" || rc.ChecksumSHA256 != base64.StdEncoding.EncodeToString(o.sum[:]) {
		t.Fatalf("receipt %+v", rc)
	}
	got, err := os.ReadFile(s.ObjectFile(s.bucket, key))
	if err != nil || !bytes.Equal(got, o.body) {
		t.Fatalf("stored %q, %v", got, err)
	}
	if rc, err := b.put(ctx, o, 8); err != nil || !rc.Existing {
		t.Fatalf("repeated put: %+v, %v", rc, err)
	}
	var ce *ConflictError
	if _, err := b.put(ctx, newObject(o.path, []byte("other bytes"), typeTile), 9); !errors.As(err, &ce) || ce.Key != key {
		t.Fatalf("put of other bytes: %v", err)
	}
	if got, _ := os.ReadFile(s.ObjectFile(s.bucket, key)); !bytes.Equal(got, o.body) {
		t.Fatalf("overwritten: %q", got)
	}
}
