package export_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/export"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/verify"
)

// TestWitnessedExportVerify: a log whose newest checkpoint was cosigned by
// two witnesses (cosign.Signer stands in for them here; internal/witness
// tests the real litewitness) exports that cosigned note and the policy,
// and verify checks the cosignatures against a pinned policy: 2-of-2
// holds, a policy needing a third witness fails, a forged cosignature
// fails, and the export stops at the newest cosigned checkpoint even when
// the sealer has cut a newer one.
func TestWitnessedExportVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	lc := chain.DefaultConfig(filepath.Join(dir, "db"))
	lc.Logger, lc.Signer = quiet(), chain.NewSigner(priv)
	l, err := chain.Open(ctx, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := chain.NewIDGen()
	pol := chain.PolicyIdentification{Version: "1.1", PolicyID: "t", ConformanceTier: "SILVER", RegistrationPolicy: chain.RegistrationPolicy{Issuer: "t"}}
	add := func(i int) {
		ts := base + int64(i)*int64(time.Millisecond)
		h := chain.Header{EventID: ids.New(ts).String(), TimestampInt: strconv.FormatInt(ts, 10),
			TimestampISO: time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z"), EventType: chain.SNC, EventTypeCode: 101,
			TimestampPrecision: chain.PrecisionNanosecond, ClockSyncStatus: chain.BestEffort, HashAlgo: chain.HashAlgoSHA256}
		if err := l.Append(ctx, &chain.Entry{Header: h, Payload: chain.Payload{PolicyIdentification: &pol, Clock: &chain.Clock{Source: "SYSTEM"}}}); err != nil {
			t.Fatal(err)
		}
	}
	const origin = "fixtap/witness-test"
	key, _, err := seal.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	sc := seal.DefaultConfig(origin, key)
	sc.Logger, sc.Interval = quiet(), 20*time.Millisecond
	s, err := seal.New(ctx, l, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	sealAll := func() *seal.Checkpoint {
		t.Helper()
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		c, err := s.WaitCheckpoint(wctx, l.Durable())
		if err != nil {
			t.Fatal(err)
		}
		if err := l.WaitSigned(wctx, l.Durable()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := range 20 {
		add(i)
	}
	cp := sealAll()

	// Two witnesses cosign checkpoint cp.
	var wits []*cosign.Signer
	var policy strings.Builder
	for i := range 3 {
		_, wpriv, _ := ed25519.GenerateKey(rand.Reader)
		w, err := cosign.NewSigner(fmt.Sprintf("w%d.example", i+1), wpriv, func() time.Time { return time.Unix(1795000000, 0) })
		if err != nil {
			t.Fatal(err)
		}
		wits = append(wits, w)
		vkey, _ := cosign.VerifierKey(w.Name(), wpriv.Public().(ed25519.PublicKey))
		fmt.Fprintf(&policy, "witness w%d %s https://w%d.example\n", i+1, vkey, i+1)
	}
	two := policy.String() + "group g 2 w1 w2\nquorum g\n"
	three := policy.String() + "group g all w1 w2 w3\nquorum g\n"
	n, err := note.Open(cp.Note, note.VerifierList(key.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, wits[0], wits[1])
	if err != nil {
		t.Fatal(err)
	}
	// The sealer goes on: a newer checkpoint nobody cosigned yet.
	for i := 20; i < 30; i++ {
		add(i)
	}
	newer := sealAll()
	if newer.Size <= cp.Size {
		t.Fatalf("no newer checkpoint: %d after %d", newer.Size, cp.Size)
	}

	export1 := func(t *testing.T, cosignedNote []byte) string {
		src := &export.Source{Log: l, Seal: s, Origin: origin, ManifestSigner: key.Signer, CheckpointVKey: key.VerifierKey,
			EventKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, Now: time.Now, WitnessPolicy: []byte(two),
			Cosigned: func(size uint64) ([]byte, bool, error) {
				return cosignedNote, size == cp.Size, nil
			},
			LatestCosigned: func() (uint64, bool, error) { return cp.Size, true, nil }}
		out := filepath.Join(t.TempDir(), "bundle")
		m, err := export.WriteDir(ctx, src, export.Request{Selection: verify.Selection{By: "all"}, All: true}, out)
		if err != nil {
			t.Fatal(err)
		}
		if m.TreeSize != cp.Size {
			t.Fatalf("bundle ends at %d, want the newest cosigned checkpoint %d (sealer at %d)", m.TreeSize, cp.Size, newer.Size)
		}
		return out
	}

	t.Run("2-of-2 pinned", func(t *testing.T) {
		out := export1(t, cosigned)
		rep, err := verify.Verify(os.DirFS(out), verify.Options{WitnessPolicy: []byte(two)})
		if err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep.Failures)
		}
		w := rep.Witness
		if w == nil || !strings.Contains(w.Policy, "pinned") {
			t.Fatalf("witness report %+v", w)
		}
		last := w.Checkpoints[len(w.Checkpoints)-1]
		if last.TreeSize != cp.Size || !last.Required || !last.Satisfied || len(last.Cosigners) != 2 {
			t.Fatalf("newest checkpoint %+v", last)
		}
		// Without a pinned policy the bundle's copy is used, and said so.
		rep, err = verify.Verify(os.DirFS(out), verify.Options{})
		if err != nil || rep.Witness == nil || !strings.Contains(rep.Witness.Policy, "bundle") {
			t.Fatalf("bundle policy: %v %+v", err, rep.Witness)
		}
	})
	t.Run("policy needs a third witness", func(t *testing.T) {
		out := export1(t, cosigned)
		rep, err := verify.Verify(os.DirFS(out), verify.Options{WitnessPolicy: []byte(three)})
		if err == nil || rep.OK || !hasFailure(rep, "witness", "not satisfied") {
			t.Fatalf("verify accepted 2 cosignatures under a 3-of-3 policy: %v %+v", err, rep.Failures)
		}
	})
	t.Run("forged cosignature", func(t *testing.T) {
		// w2's line re-used on a note whose body it did not sign: change
		// one base64 character of its signature (byte 15 of keyID ‖
		// timestamp ‖ signature) to another valid one. Flipping a bit
		// instead made 'A', 'Z', 'a', 'z', '+' or '/' invalid base64 one
		// run in ~10, and the note failed as malformed, not as forged.
		i := strings.LastIndex(string(cosigned), "— w2.example ")
		bad := []byte(string(cosigned))
		j := i + len("— w2.example ") + 20
		if bad[j] == 'A' {
			bad[j] = 'B'
		} else {
			bad[j] = 'A'
		}
		out := export1(t, bad)
		rep, err := verify.Verify(os.DirFS(out), verify.Options{WitnessPolicy: []byte(two)})
		if err == nil || rep.OK || !hasFailure(rep, "witness", "do not verify") {
			t.Fatalf("verify accepted a forged cosignature: %v %+v", err, rep.Failures)
		}
	})
}

func hasFailure(r *verify.Report, check, detail string) bool {
	for _, f := range r.Failures {
		if (check == "" || f.Check == check) && strings.Contains(f.Detail, detail) {
			return true
		}
	}
	return false
}
