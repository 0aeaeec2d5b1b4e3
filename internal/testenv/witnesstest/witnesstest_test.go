package witnesstest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/testenv"
	"github.com/fixtap/fixtap/internal/testenv/testproc"
)

// testLog is a log with a fresh note key (golang.org/x/mod/sumdb/note).
type testLog struct {
	Log
	signer note.Signer
}

func newTestLog(t *testing.T, origin string) testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testLog{Log: Log{Origin: origin, VerifierKeys: []string{vkey}}, signer: s}
}

// checkpoint returns the signed C2SP tlog-checkpoint note of origin at size
// n with root h.
func (l testLog) checkpoint(t *testing.T, n int64, h tlog.Hash) []byte {
	t.Helper()
	text := fmt.Sprintf("%s\n%d\n%s\n", l.Origin, n, h)
	signed, err := note.Sign(&note.Note{Text: text}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

type reply struct {
	status      int
	contentType string
	body        []byte
}

// addCheckpoint POSTs a C2SP tlog-witness add-checkpoint request:
// "old N\n", one base64 proof hash per line, an empty line, the note.
func addCheckpoint(t *testing.T, w *Witness, old int64, proof []tlog.Hash, cp []byte) reply {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&b, "%s\n", h)
	}
	b.WriteString("\n")
	b.Write(cp)
	resp, err := http.Post(w.URL+"/add-checkpoint", "", &b)
	if err != nil {
		t.Fatalf("add-checkpoint: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), body}
}

// emptyRoot is the RFC 6962 root of the empty tree, SHA-256("").
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// verifyCosignature opens the checkpoint with the witness's cosignature
// lines appended, trusting only verifierKey, and returns the cosignature's
// timestamp.
func verifyCosignature(t *testing.T, cp, cosig []byte, verifierKey string) (int64, error) {
	t.Helper()
	v, err := torchwood.NewCosignatureVerifier(verifierKey)
	if err != nil {
		t.Fatalf("NewCosignatureVerifier(%q): %v", verifierKey, err)
	}
	n, err := note.Open(append(bytes.Clone(cp), cosig...), note.VerifierList(v))
	if err != nil {
		return 0, err
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != v.Name() {
		t.Fatalf("note.Open verified %d signatures %v, want one by %s", len(n.Sigs), n.Sigs, v.Name())
	}
	return torchwood.CosignatureTimestamp(n.Sigs[0])
}

func TestAddCheckpoint(t *testing.T) {
	log1 := newTestLog(t, "fixtap.test/log1")
	w := Start(t, "witness1.fixtap.test", log1.Log)
	if EmptyTreeHash != emptyRoot.String() {
		t.Fatalf("EmptyTreeHash %q, want SHA-256(\"\") %q", EmptyTreeHash, emptyRoot)
	}

	cp0 := log1.checkpoint(t, 0, emptyRoot)
	r := addCheckpoint(t, w, 0, nil, cp0)
	if r.status != http.StatusOK {
		t.Fatalf("add-checkpoint size 0: %d %q, want 200", r.status, r.body)
	}
	t.Logf("cosignature: %q", r.body)
	if !bytes.HasPrefix(r.body, []byte("— "+w.Name+" ")) || bytes.Count(r.body, []byte("\n")) != 1 {
		t.Errorf("cosignature %q: want one line \"— %s <base64>\\n\"", r.body, w.Name)
	}
	ts, err := verifyCosignature(t, cp0, r.body, w.VerifierKey)
	if err != nil {
		t.Fatalf("the cosignature does not verify with VerifierKey %s: %v", w.VerifierKey, err)
	}
	if ts <= 0 {
		t.Errorf("cosignature timestamp %d", ts)
	}
	// Another witness's key with the same name must not verify it: the
	// check above can fail.
	other := Start(t, w.Name, log1.Log)
	if _, err := verifyCosignature(t, cp0, r.body, other.VerifierKey); err == nil {
		t.Fatal("the cosignature verified with another witness's key")
	}

	// Growth 0 → 1 needs no proof (old size 0).
	leaf := tlog.RecordHash([]byte("entry 0"))
	cp1 := log1.checkpoint(t, 1, leaf)
	if r := addCheckpoint(t, w, 0, nil, cp1); r.status != http.StatusOK {
		t.Fatalf("add-checkpoint 0 → 1: %d %q, want 200", r.status, r.body)
	} else if _, err := verifyCosignature(t, cp1, r.body, w.VerifierKey); err != nil {
		t.Fatalf("cosignature of size 1: %v", err)
	}

	// C2SP tlog-witness: an old size that is not the one the witness
	// holds is 409 Conflict, Content-Type text/x.tlog.size, body "<size>\n".
	cp5 := log1.checkpoint(t, 5, tlog.RecordHash([]byte("some root")))
	for _, c := range []struct {
		old int64
		cp  []byte
	}{{0, cp1}, {0, cp5}, {3, cp5}} {
		r := addCheckpoint(t, w, c.old, nil, c.cp)
		if r.status != http.StatusConflict || r.contentType != "text/x.tlog.size" || string(r.body) != "1\n" {
			t.Errorf("add-checkpoint with old %d while the witness holds 1: %d %q %q, want 409 text/x.tlog.size \"1\\n\"",
				c.old, r.status, r.contentType, r.body)
		}
	}
	// An old size larger than the checkpoint's: 400 Bad Request.
	if r := addCheckpoint(t, w, 5, nil, cp1); r.status != http.StatusBadRequest {
		t.Errorf("add-checkpoint with old 5 > size 1: %d %q, want 400", r.status, r.body)
	}

	// Unknown origin: litewitness v0.8.0 answers 403 "unknown log"
	// (C2SP tlog-witness says 404; see the package comment).
	stranger := newTestLog(t, "fixtap.test/unknown")
	if r := addCheckpoint(t, w, 0, nil, stranger.checkpoint(t, 0, emptyRoot)); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "unknown log") {
		t.Errorf("add-checkpoint for an unknown origin: %d %q, want 403 \"unknown log\"", r.status, r.body)
	}
	// A known origin signed by a key the witness does not hold: 403.
	impostor := newTestLog(t, log1.Origin)
	if r := addCheckpoint(t, w, 1, nil, impostor.checkpoint(t, 1, leaf)); r.status != http.StatusForbidden {
		t.Errorf("add-checkpoint signed by an unknown key: %d %q, want 403", r.status, r.body)
	}

	// AddLog while running: the next request sees the new log.
	w.AddLog(t, stranger.Log)
	if r := addCheckpoint(t, w, 0, nil, stranger.checkpoint(t, 0, emptyRoot)); r.status != http.StatusOK {
		t.Errorf("add-checkpoint after AddLog: %d %q, want 200", r.status, r.body)
	}
}

// TestStopRestart: Stop ends both processes; Restart brings the witness back
// on the same URL with the same key and the state it had; after the test no
// process it started is alive.
func TestStopRestart(t *testing.T) {
	var pids []int
	t.Run("witness", func(t *testing.T) {
		log1 := newTestLog(t, "fixtap.test/log1")
		w := Start(t, "witness1.fixtap.test", log1.Log)
		url, vkey := w.URL, w.VerifierKey
		leaf := tlog.RecordHash([]byte("entry 0"))
		cp1 := log1.checkpoint(t, 1, leaf)
		if r := addCheckpoint(t, w, 0, nil, cp1); r.status != http.StatusOK {
			t.Fatalf("add-checkpoint: %d %q", r.status, r.body)
		}

		first := w.PIDs()
		pids = append(pids, first...)
		w.Stop(t)
		for _, pid := range first {
			if testproc.Alive(pid) {
				t.Errorf("pid %d alive after Stop", pid)
			}
		}
		if _, err := http.Post(w.URL+"/add-checkpoint", "", strings.NewReader("")); err == nil {
			t.Errorf("the witness answered after Stop")
		}

		w.Restart(t)
		pids = append(pids, w.PIDs()...)
		if w.URL != url || w.VerifierKey != vkey {
			t.Fatalf("after Restart: URL %s key %s, want %s %s", w.URL, w.VerifierKey, url, vkey)
		}
		// The database kept size 1.
		if r := addCheckpoint(t, w, 0, nil, cp1); r.status != http.StatusConflict || string(r.body) != "1\n" {
			t.Errorf("after Restart, old 0: %d %q, want 409 \"1\\n\"", r.status, r.body)
		}
		cp2 := log1.checkpoint(t, 2, tlog.NodeHash(leaf, tlog.RecordHash([]byte("entry 1"))))
		proof := []tlog.Hash{tlog.RecordHash([]byte("entry 1"))}
		if r := addCheckpoint(t, w, 1, proof, cp2); r.status != http.StatusOK {
			t.Errorf("after Restart, 1 → 2 with proof: %d %q, want 200", r.status, r.body)
		} else if _, err := verifyCosignature(t, cp2, r.body, vkey); err != nil {
			t.Errorf("cosignature after Restart: %v", err)
		}
		// A consistency proof that does not verify: 422.
		cp3 := log1.checkpoint(t, 3, tlog.RecordHash([]byte("bogus root")))
		if r := addCheckpoint(t, w, 2, []tlog.Hash{leaf}, cp3); r.status != http.StatusUnprocessableEntity {
			t.Errorf("bad consistency proof: %d %q, want 422", r.status, r.body)
		}
	})
	if len(pids) != 4 {
		t.Fatalf("collected pids %v, want 4", pids)
	}
	for _, pid := range pids {
		if testproc.Alive(pid) {
			t.Errorf("pid %d outlived its test", pid)
		}
	}
}

// TestFingerprint: the fingerprint computed from the .pub file is the one
// ssh-keygen prints, which litewitness matches against the agent's keys.
func TestFingerprint(t *testing.T) {
	keygen := testenv.RequireTool(t, "ssh-keygen")
	key := t.TempDir() + "/k"
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	_, fp := readPublicKey(t, key+".pub")
	out, err := exec.Command(keygen, "-l", "-E", "sha256", "-f", key+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) < 2 || f[1] != fp {
		t.Fatalf("ssh-keygen -l says %q, computed %q", out, fp)
	}
}

// TestLostPort: litewitness told to listen on a taken port exits saying
// "address already in use", which Start takes as the cue to retry.
func TestLostPort(t *testing.T) {
	log1 := newTestLog(t, "fixtap.test/log1")
	w := Start(t, "witness1.fixtap.test", log1.Log)
	w2 := Start(t, "witness2.fixtap.test", log1.Log)
	w2.witness.Stop(t)
	w2.port, w2.addr, w2.URL = w.port, w.addr, w.URL
	err := w2.startWitness(t)
	if err == nil {
		t.Fatal("a second litewitness started on a taken port")
	}
	if !w2.witness.LostPort() {
		t.Fatalf("LostPort() = false after %v; output:\n%s", err, w2.witness.Output())
	}
}
