package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/seal"
)

// TestCosignerTwoOfTwo: two real litewitnesses, both required. Every
// stored cosigned checkpoint is the sealer's checkpoint note with both
// cosignatures appended, passes cosign.Policy.Check, and a restarted
// Cosigner picks up where it left off.
func TestCosignerTwoOfTwo(t *testing.T) {
	key := testKey(t, "two-of-two")
	w1, w2 := startWitness(t, "witness1.fixtap.test", key), startWitness(t, "witness2.fixtap.test", key)
	tp := openTap(t, "", key, 0)
	p := policyFor(t, "group both all w1 w2\nquorum both\n", w1, w2)
	ev := newEvents()
	c := startCosigner(t, tp, p, ev.config(key))

	var last *seal.Checkpoint
	for range 5 {
		last = tp.appendN(t, 7)
		waitCosigned(t, c, last.Size, 10*time.Second)
	}
	cs, err := c.Latest()
	if err != nil || cs.Size != last.Size || cs.Root != last.Root {
		t.Fatalf("Latest = %+v, %v; want size %d", cs, err, last.Size)
	}
	if !bytes.HasPrefix(cs.Note, last.Note) {
		t.Fatalf("the cosigned note does not start with the checkpoint note:\n%s\n---\n%s", cs.Note, last.Note)
	}
	if got := strings.Count(string(cs.Note[len(last.Note):]), "\n"); got != 2 {
		t.Fatalf("%d cosignature lines after the checkpoint, want 2:\n%s", got, cs.Note)
	}
	checkStored(t, c, p, key, tp)
	f, _, a, _ := ev.snapshot()
	if len(f) != 0 || len(a) != 0 {
		t.Errorf("failures %v, alarms %v; want none", f, a)
	}
	// Stored records read back alike through Get and All, and a Reader
	// without policy reads the same notes.
	r, _ := OpenReader(tp.log.DB(), nil, key.Verifier)
	n := 0
	err = c.All(0, last.Size+1, func(x *Cosigned) error {
		n++
		y, err := r.Get(x.Size)
		if err != nil || !bytes.Equal(x.Note, y.Note) || y.Cosigs != nil || y.Origin != testOrigin {
			return fmt.Errorf("size %d: reader without policy: %+v, %v", x.Size, y, err)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("All: %d records, %v", n, err)
	}

	// Restart: the new Cosigner starts from the stored latest, and
	// continues.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := startCosigner(t, tp, p, ev.config(key))
	if got, err := c2.Latest(); err != nil || got.Size != last.Size {
		t.Fatalf("restarted Latest = %+v, %v", got, err)
	}
	last = tp.appendN(t, 3)
	waitCosigned(t, c2, last.Size, 10*time.Second)
	checkStored(t, c2, p, key, tp)
	lc, err := c2.LatestCheckpoint()
	if err != nil || lc.Size != last.Size || lc.Origin != testOrigin || !bytes.HasPrefix(lc.Note, last.Note) {
		t.Fatalf("LatestCheckpoint = %+v, %v", lc, err)
	}
	// The anchorer's reading of it: seal.OpenCheckpoint with the log key
	// alone ignores the cosignatures and accepts the note.
	if _, err := seal.OpenCheckpoint(lc.Note, note.VerifierList(key.Verifier)); err != nil {
		t.Fatalf("seal.OpenCheckpoint of the cosigned note: %v", err)
	}
}

// checkStored checks every stored cosigned checkpoint: policy.Check
// passes, the note is the sealer's stored checkpoint note of that size
// plus cosignatures, sizes increase.
func checkStored(t testing.TB, c *Cosigner, p *cosign.Policy, key *seal.Key, tp *tap) {
	t.Helper()
	prev := uint64(0)
	err := c.All(0, 1<<62, func(cs *Cosigned) error {
		if cs.Size <= prev {
			return fmt.Errorf("size %d after %d", cs.Size, prev)
		}
		prev = cs.Size
		res, err := p.Check(cs.Note, key.Verifier)
		if err != nil {
			return fmt.Errorf("size %d: Check: %w", cs.Size, err)
		}
		if len(res.Cosigs) != len(cs.Cosigs) {
			return fmt.Errorf("size %d: %d cosigs stored, Check finds %d", cs.Size, len(cs.Cosigs), len(res.Cosigs))
		}
		cp, err := tp.seal.Checkpoint(cs.Size)
		if err != nil {
			return fmt.Errorf("size %d: %w", cs.Size, err)
		}
		if !bytes.HasPrefix(cs.Note, cp.Note) || cs.Root != cp.Root {
			return fmt.Errorf("size %d: not the sealer's checkpoint", cs.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if prev == 0 {
		t.Fatal("no cosigned checkpoint stored")
	}
}

// TestCosignerAnyOneDown: with "any" of two, a stopped witness does not
// hold checkpoints back; its failure is reported once for the whole
// episode, and its recovery after a restart, after which it cosigns again.
// The stored notes meet the policy throughout.
func TestCosignerAnyOneDown(t *testing.T) {
	key := testKey(t, "any-one-down")
	w1, w2 := startWitness(t, "witness1.fixtap.test", key), startWitness(t, "witness2.fixtap.test", key)
	tp := openTap(t, "", key, 0)
	p := policyFor(t, "group g any w1 w2\nquorum g\n", w1, w2)
	ev := newEvents()
	c := startCosigner(t, tp, p, ev.config(key))

	first := tp.appendN(t, 5)
	waitCosigned(t, c, first.Size, 10*time.Second)
	w1.Stop(t)
	var last *seal.Checkpoint
	for range 6 {
		last = tp.appendN(t, 4)
		cs := waitCosigned(t, c, last.Size, 10*time.Second)
		if res, err := p.Check(cs.Note, key.Verifier); err != nil || res.Cosigners()["w1"] {
			t.Fatalf("size %d with w1 down: %+v, %v", cs.Size, res, err)
		}
	}
	// Several backoff periods pass with w1 down.
	waitFor(t, 10*time.Second, "several failed requests to w1", func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return ev.requests["w1"] >= 5
	})
	f, rec, a, _ := ev.snapshot()
	if f["w1"] != 1 || f["w2"] != 0 || rec["w1"] != 0 || len(a) != 0 {
		t.Fatalf("failures %v recovers %v alarms %v; want one failure of w1", f, rec, a)
	}
	w1.Restart(t)
	// On a quiet log the retry of the newest checkpoint notices it.
	waitFor(t, 10*time.Second, "OnRecover(w1)", func() bool {
		_, rec, _, _ := ev.snapshot()
		return rec["w1"] == 1
	})
	// It cosigns the next checkpoints again. (Whether its line lands in
	// the stored note depends on whether it answers before w2: the note
	// is published as soon as the quorum is met, as tessera does.)
	ev.mu.Lock()
	oks := ev.oks["w1"]
	ev.mu.Unlock()
	for range 3 {
		last = tp.appendN(t, 3)
		waitCosigned(t, c, last.Size, 10*time.Second)
	}
	waitFor(t, 10*time.Second, "w1 holding the newest checkpoint", func() bool {
		ev.mu.Lock()
		n := ev.oks["w1"]
		ev.mu.Unlock()
		return n > oks && witnessHolds(t, w1.URL, last)
	})
	f, _, a, _ = ev.snapshot()
	if f["w1"] != 1 || len(a) != 0 {
		t.Errorf("failures %v alarms %v after recovery", f, a)
	}
	checkStored(t, c, p, key, tp)
}

// TestCosignerAllOneDown: with both required, nothing new is cosigned
// while one witness is down; when it returns, the newest checkpoint is —
// here by a restarted Cosigner, which meets a 409 from the witness that
// kept cosigning and resends from its size.
func TestCosignerAllOneDown(t *testing.T) {
	key := testKey(t, "all-one-down")
	w1, w2 := startWitness(t, "witness1.fixtap.test", key), startWitness(t, "witness2.fixtap.test", key)
	tp := openTap(t, "", key, 0)
	p := policyFor(t, "group g 2 w1 w2\nquorum g\n", w1, w2)
	ev := newEvents()
	c := startCosigner(t, tp, p, ev.config(key))

	first := tp.appendN(t, 5)
	waitCosigned(t, c, first.Size, 10*time.Second)
	w2.Stop(t)
	var last *seal.Checkpoint
	for range 5 {
		last = tp.appendN(t, 4)
	}
	// w1 keeps cosigning the newest checkpoint; w2 keeps failing.
	waitFor(t, 10*time.Second, "w1 cosigning the newest and w2 failing", func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return ev.requests["w2"] >= 5 && len(ev.failures["w2"]) == 1
	})
	if cs, _ := c.Latest(); cs.Size != first.Size {
		t.Fatalf("cosigned %d with w2 down; want still %d", cs.Size, first.Size)
	}
	f, rec, a, _ := ev.snapshot()
	if f["w2"] != 1 || f["w1"] != 0 || len(rec) != 0 || len(a) != 0 {
		t.Errorf("failures %v recovers %v alarms %v", f, rec, a)
	}

	// A restarted Cosigner believes w1 holds the stored checkpoint, but w1
	// has cosigned newer ones since: its 409 says where it is, and the
	// resend from there is cosigned.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	w2.Restart(t)
	ev2 := newEvents()
	c2 := startCosigner(t, tp, p, ev2.config(key))
	cs := waitCosigned(t, c2, last.Size, 10*time.Second)
	if len(cs.Cosigs) != 2 {
		t.Fatalf("cosigs %+v", cs.Cosigs)
	}
	ev2.mu.Lock()
	conflicts := 0
	for _, err := range ev2.reqErrs {
		if errors.As(err, new(*ConflictError)) {
			conflicts++
		}
	}
	ev2.mu.Unlock()
	if conflicts == 0 {
		t.Error("no 409 after the restart: the resend path was not exercised")
	}
	f, _, a, _ = ev2.snapshot()
	if len(f) != 0 || len(a) != 0 {
		t.Errorf("after restart: failures %v alarms %v", f, a)
	}
	checkStored(t, c2, p, key, tp)
}

// TestForkRefused offers a litewitness forked checkpoints through
// Client.AddCheckpoint: a different root at the size it cosigned, and a
// larger checkpoint whose consistency proof does not verify. Both are 422
// (*RefusedError); a checkpoint by a key it does not trust, or of an
// origin it does not know, is 403.
func TestForkRefused(t *testing.T) {
	key := testKey(t, "fork")
	w := startWitness(t, "witness1.fixtap.test", key)
	tp := openTap(t, "", key, 0)
	cp := tp.appendN(t, 10)
	cl := &Client{URL: w.URL}
	v, err := cosign.NewVerifier(w.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lines, err := cl.AddCheckpoint(ctx, 0, nil, cp.Note)
	if err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	if _, _, err := Accept(cp.Note, lines, v); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	sign := func(k *seal.Key, origin string, size uint64, root tlog.Hash) []byte {
		msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, size, root)}, k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	refused := func(what string, err error, status int) {
		t.Helper()
		var re *RefusedError
		if !errors.As(err, &re) || re.Status != status {
			t.Errorf("%s: %v, want a *RefusedError %d", what, err, status)
		}
	}

	// Same origin and key, another root at the size the witness holds.
	forked := tlog.Hash{0xfe}
	_, err = cl.AddCheckpoint(ctx, cp.Size, nil, sign(key, testOrigin, cp.Size, forked))
	refused("another root at the same size", err, 422)

	// A larger tree with a made-up root: the real proof does not verify.
	cp2 := tp.appendN(t, 6)
	proof, err := tp.seal.ConsistencyProof(cp.Size, cp2.Size)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.AddCheckpoint(ctx, cp.Size, proof, sign(key, testOrigin, cp2.Size, forked))
	refused("a proof that does not verify", err, 422)
	// A tampered proof for the real root.
	bad := append(tlog.TreeProof(nil), proof...)
	bad[0][0] ^= 1
	_, err = cl.AddCheckpoint(ctx, cp.Size, bad, cp2.Note)
	refused("a tampered proof", err, 422)

	// Not our key; an origin it does not know (litewitness says 403 where
	// C2SP says 404).
	_, err = cl.AddCheckpoint(ctx, cp.Size, proof, sign(testKey(t, "stranger"), testOrigin, cp2.Size, cp2.Root))
	refused("an untrusted key", err, 403)
	_, err = cl.AddCheckpoint(ctx, 0, nil, sign(key, "fixtap.test/unknown", cp2.Size, cp2.Root))
	refused("an unknown origin", err, 403)

	// The witness still holds the honest history: the real checkpoint
	// with the real proof is cosigned; a stale old size is a 409.
	if lines, err := cl.AddCheckpoint(ctx, cp.Size, proof, cp2.Note); err != nil {
		t.Fatalf("the honest checkpoint after the fork attempts: %v", err)
	} else if _, _, err := Accept(cp2.Note, lines, v); err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if _, err := cl.AddCheckpoint(ctx, cp.Size, proof, cp2.Note); !errors.As(err, &ce) || ce.Size != cp2.Size {
		t.Errorf("stale old size: %v, want 409 with %d", err, cp2.Size)
	}

	// The Cosigner offered a fork raises one alarm and keeps backing off:
	// a second tap with the same key and origin but other events, its
	// tree consistent with nothing the witness holds.
	fork := openTap(t, "", key, 1_000_000)
	fork.appendN(t, 20) // larger than the witness's 16: a 409, then a 422
	ev := newEvents()
	fc := startCosigner(t, fork, policyFor(t, "quorum w1\n", w), ev.config(key))
	waitFor(t, 10*time.Second, "the alarm", func() bool {
		_, _, a, _ := ev.snapshot()
		return a["w1"] >= 1
	})
	assertBackingOff(t, ev, "w1")
	ev.mu.Lock()
	alarm := ev.alarms["w1"][0]
	ev.mu.Unlock()
	if !errors.As(alarm, new(*RefusedError)) || !strings.Contains(alarm.Error(), "422") {
		t.Errorf("alarm %v, want a 422 *RefusedError", alarm)
	}
	if _, err := fc.Latest(); !errors.Is(err, ErrNoCosigned) {
		t.Errorf("the fork was cosigned: %v", err)
	}
}

// assertBackingOff watches name's requests for a second: exactly one
// alarm, no endless loop (the backoff caps at 200ms, so about five
// requests, never dozens).
func assertBackingOff(t testing.TB, ev *events, name string) {
	t.Helper()
	_, _, _, before := ev.snapshot()
	time.Sleep(time.Second)
	_, _, a, after := ev.snapshot()
	if n := after[name] - before[name]; n > 15 {
		t.Errorf("%d requests to %s in a second: not backing off", n, name)
	}
	if a[name] != 1 {
		t.Errorf("%d alarms for %s, want 1 for the episode", a[name], name)
	}
}

// TestWitnessAhead: the witness has cosigned a larger tree of our origin
// from another history (seeded from another DB with the same key). Our
// Cosigner learns its size from the 409, finds it beyond our tree, raises
// one alarm (*AheadError) and backs off instead of looping.
func TestWitnessAhead(t *testing.T) {
	key := testKey(t, "ahead")
	w := startWitness(t, "witness1.fixtap.test", key)
	other := openTap(t, "", key, 1_000_000)
	big := other.appendN(t, 50)
	if _, err := (&Client{URL: w.URL}).AddCheckpoint(context.Background(), 0, nil, big.Note); err != nil {
		t.Fatalf("seeding the witness: %v", err)
	}
	other.close()

	tp := openTap(t, "", key, 0)
	tp.appendN(t, 10)
	ev := newEvents()
	c := startCosigner(t, tp, policyFor(t, "quorum w1\n", w), ev.config(key))
	waitFor(t, 10*time.Second, "the alarm", func() bool {
		_, _, a, _ := ev.snapshot()
		return a["w1"] >= 1
	})
	ev.mu.Lock()
	alarm := ev.alarms["w1"][0]
	ev.mu.Unlock()
	var ae *AheadError
	if !errors.As(alarm, &ae) || ae.WitnessSize != 50 || ae.TreeSize != 10 || ae.Witness != "w1" {
		t.Fatalf("alarm %v, want *AheadError{50, 10}", alarm)
	}
	assertBackingOff(t, ev, "w1")
	if _, err := c.Latest(); !errors.Is(err, ErrNoCosigned) {
		t.Errorf("cosigned despite the alarm: %v", err)
	}
	f, _, _, _ := ev.snapshot()
	if len(f) != 0 {
		t.Errorf("failures %v: an alarm is not a failure", f)
	}
}

// witnessHolds reports whether the witness at url holds cp as its latest
// cosigned checkpoint of our log: it answers old size = cp.Size with a
// 200 (re-cosigning the same tree), not a 409.
func witnessHolds(t testing.TB, url string, cp *seal.Checkpoint) bool {
	t.Helper()
	_, err := (&Client{URL: url}).AddCheckpoint(context.Background(), cp.Size, nil, cp.Note)
	var ce *ConflictError
	if err != nil && !errors.As(err, &ce) {
		t.Fatalf("asking %s: %v", url, err)
	}
	return err == nil
}
