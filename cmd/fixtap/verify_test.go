package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/testenv"
	"github.com/fixtap/fixtap/internal/verify"
)

// A real bundle for the verifier's tests: `fixtap demo` (in-process) runs
// the whole pipeline — the tap, a drop-copy day with an outage and a
// reset, a local TSA, checkpoints and anchors — then `fixtap export` writes
// a full bundle and an order's partial bundle from its data dir.
var (
	demoOnce sync.Once
	demoDir  string
	demoErr  error
)

func demoBundles(t *testing.T) (dir, full, order string) {
	t.Helper()
	demoOnce.Do(func() {
		demoDir, demoErr = os.MkdirTemp("", "fixtap-verify-test-")
		if demoErr != nil {
			return
		}
		var out bytes.Buffer
		if demoErr = run(context.Background(), []string{"demo", "-dir", demoDir, "-messages", "2000"}, &out, &out); demoErr != nil {
			demoErr = errors.Join(demoErr, errors.New(out.String()))
			return
		}
		cfg := filepath.Join(demoDir, "demo.cfg")
		// An order with a replace in its life.
		ev, _ := os.ReadFile(filepath.Join(demoDir, "bundle", verify.EventsFile))
		m := regexp.MustCompile(`"OrigClOrdID":"([^"]+)"`).FindSubmatch(ev)
		if m == nil {
			demoErr = errors.New("no replaced order in the demo day")
			return
		}
		demoErr = run(context.Background(), []string{"export", "-config", cfg, "-order", string(m[1]), "-o", filepath.Join(demoDir, "order")}, &out, &out)
		if demoErr != nil {
			demoErr = errors.Join(demoErr, errors.New(out.String()))
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoDir, filepath.Join(demoDir, "bundle"), filepath.Join(demoDir, "order")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

// pinned are the trust anchors an auditor holds: the tap's event public
// key, its checkpoint verifier key and the TSA root, from the demo dir
// (not from the bundle).
func pinned(t *testing.T, dir string) verify.Options {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join(dir, "tap.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := verify.ParsePublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := seal.LoadKeyFile(filepath.Join(dir, "data", "checkpoint.skey"))
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := os.ReadFile(filepath.Join(dir, "tsa-root.pem"))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		t.Fatal("no TSA root")
	}
	return verify.Options{EventKeys: []ed25519.PublicKey{k}, CheckpointKey: ck.VerifierKey, TSARoots: pool}
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestVerifyUntouched(t *testing.T) {
	dir, full, order := demoBundles(t)
	for _, b := range []string{full, order} {
		rep, err := verify.Verify(os.DirFS(b), pinned(t, dir))
		if err != nil || !rep.OK {
			t.Fatalf("%s: %v\n%+v", b, err, rep.Failures)
		}
		if rep.Trust.EventKeys != "pinned on the command line" {
			t.Errorf("trust: %+v", rep.Trust)
		}
		if len(rep.Anchors) == 0 || !rep.Anchors[0].OK {
			t.Errorf("%s: anchors %+v", b, rep.Anchors)
		}
	}
	// The order bundle holds the replace and every event of the order.
	rep, _ := verify.Verify(os.DirFS(order), pinned(t, dir))
	if rep.Kind != verify.KindPartial || rep.Inclusion != rep.Events || rep.EventTypes["MOD"] == 0 {
		t.Errorf("order bundle: kind %s, %d inclusion proofs for %d events, types %v", rep.Kind, rep.Inclusion, rep.Events, rep.EventTypes)
	}
}

// lines reads and writes events.jsonl.
func readLines(t *testing.T, b string) [][]byte {
	t.Helper()
	ev, err := os.ReadFile(filepath.Join(b, verify.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimSuffix(ev, nil), []byte("\n"))[:bytes.Count(ev, []byte("\n"))]
}

func writeLines(t *testing.T, b string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b, verify.EventsFile), bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantFailure verifies b and requires a failure of layer/check naming seq
// (seq < 0: no particular event) or tree size.
func wantFailure(t *testing.T, b string, opts verify.Options, layer, check string, seq int64, treeSize int64) *verify.Report {
	t.Helper()
	rep, err := verify.Verify(os.DirFS(b), opts)
	if !errors.Is(err, verify.ErrFailed) || rep == nil || rep.OK {
		t.Fatalf("verify passed a mutated bundle: %v", err)
	}
	for _, f := range rep.Failures {
		if f.Layer != layer || f.Check != check {
			continue
		}
		// A missing event cannot be named by its EventID: only by its seq.
		if seq >= 0 && (f.Seq == nil || *f.Seq != uint64(seq) || (f.EventID == "" && check != "missing")) {
			continue
		}
		if treeSize >= 0 && (f.TreeSize == nil || *f.TreeSize != uint64(treeSize)) {
			continue
		}
		t.Logf("caught: %s", f.Error())
		return rep
	}
	var got []string
	for _, f := range rep.Failures {
		got = append(got, f.Error())
	}
	t.Fatalf("want a %s/%s failure (seq %d, tree %d); got:\n%s", layer, check, seq, treeSize, strings.Join(got, "\n"))
	return nil
}

func readManifest(t *testing.T, b string) *verify.Manifest {
	t.Helper()
	m, _, err := verify.ReadManifest(os.DirFS(b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVerifyMutations(t *testing.T) {
	dir, full, order := demoBundles(t)
	opts := pinned(t, dir)
	m := readManifest(t, full)
	mid := int(m.Events / 2)
	t.Run("PayloadByte", func(t *testing.T) {
		b := copyTree(t, full)
		lines := readLines(t, b)
		i := bytes.Index(lines[mid], []byte(`"Payload":{`)) + 12
		lines[mid][i+2] ^= 1 // inside the first member name or value: still valid JSON
		writeLines(t, b, lines)
		wantFailure(t, b, opts, "event", "EventHash", int64(mid), -1)
	})
	t.Run("PayloadByteOrderBundle", func(t *testing.T) {
		b := copyTree(t, order)
		lines := readLines(t, b)
		var sec struct{ Security struct{ MerkleIndex int64 } }
		json.Unmarshal(lines[0], &sec)
		i := bytes.Index(lines[0], []byte(`"Payload":{`)) + 12
		lines[0][i+2] ^= 1
		writeLines(t, b, lines)
		wantFailure(t, b, opts, "event", "EventHash", sec.Security.MerkleIndex, -1)
	})
	t.Run("RawByte", func(t *testing.T) {
		b := copyTree(t, full)
		idx, _ := os.ReadFile(filepath.Join(b, verify.RawIndexFile))
		line := strings.Split(string(idx), "\n")[mid]
		var seq, off, n int64
		for i, f := range strings.Fields(line) {
			v, _ := strconv.ParseInt(f, 10, 64)
			*[]*int64{&seq, &off, &n}[i] = v
		}
		raw, _ := os.ReadFile(filepath.Join(b, verify.RawFile))
		raw[off+n/2] ^= 0x20
		os.WriteFile(filepath.Join(b, verify.RawFile), raw, 0o644)
		wantFailure(t, b, opts, "event", "RawSHA256", seq, -1)
	})
	t.Run("SignatureByte", func(t *testing.T) {
		b := copyTree(t, full)
		lines := readLines(t, b)
		i := bytes.Index(lines[mid], []byte(`"Signature":"`)) + 13
		lines[mid][i+5] = map[bool]byte{true: 'A', false: 'B'}[lines[mid][i+5] != 'A']
		writeLines(t, b, lines)
		wantFailure(t, b, opts, "event", "Signature", int64(mid), -1)
	})
	t.Run("CheckpointByte", func(t *testing.T) {
		b := copyTree(t, full)
		c := m.Checkpoints[len(m.Checkpoints)/2]
		p := filepath.Join(b, c.File)
		n, _ := os.ReadFile(p)
		i := bytes.LastIndexByte(n[:bytes.Index(n, []byte("\n\n"))], '\n') + 3 // in the root line
		n[i] = map[bool]byte{true: 'A', false: 'B'}[n[i] != 'A']
		os.WriteFile(p, n, 0o644)
		wantFailure(t, b, opts, "tree", "checkpoint-signature", -1, int64(c.Size))
	})
	t.Run("TokenByte", func(t *testing.T) {
		b := copyTree(t, full)
		a := m.Anchors[0]
		p := filepath.Join(b, a.Token)
		tok, _ := os.ReadFile(p)
		tok[len(tok)-40] ^= 1 // in the signature
		os.WriteFile(p, tok, 0o644)
		wantFailure(t, b, opts, "anchor", "token", -1, int64(a.TreeSize))
	})
	t.Run("EventDeleted", func(t *testing.T) {
		b := copyTree(t, full)
		lines := readLines(t, b)
		writeLines(t, b, slices.Delete(lines, mid, mid+1))
		wantFailure(t, b, opts, "event", "missing", int64(mid+1), -1)
	})
	t.Run("EventsSwapped", func(t *testing.T) {
		b := copyTree(t, full)
		lines := readLines(t, b)
		lines[mid], lines[mid+1] = lines[mid+1], lines[mid]
		writeLines(t, b, lines)
		wantFailure(t, b, opts, "event", "order", int64(mid), -1)
	})
	t.Run("TruncatedKeepManifest", func(t *testing.T) {
		// The last K events and the checkpoints past them removed; the
		// signed manifest still says where the log ended.
		b := copyTree(t, full)
		lines := readLines(t, b)
		k := 5
		writeLines(t, b, lines[:len(lines)-k])
		wantFailure(t, b, opts, "event", "missing", int64(len(lines)-k), -1)
	})
	t.Run("TruncatedCheckpointRolledBack", func(t *testing.T) {
		// Truncated to an earlier checkpoint, the later checkpoints and
		// anchors dropped and the manifest rewritten to match: only the
		// manifest's signature (by the checkpoint key) can tell.
		b := copyTree(t, full)
		lines := readLines(t, b)
		mm := readManifest(t, b)
		keepCP := mm.Checkpoints[len(mm.Checkpoints)-2]
		lines = lines[:keepCP.Size]
		writeLines(t, b, lines)
		for _, c := range mm.Checkpoints[len(mm.Checkpoints)-1:] {
			os.Remove(filepath.Join(b, c.File))
		}
		mm.Checkpoints = mm.Checkpoints[:len(mm.Checkpoints)-1]
		mm.Anchors = slices.DeleteFunc(mm.Anchors, func(a verify.AnchorEntry) bool {
			if a.TreeSize > keepCP.Size {
				os.Remove(filepath.Join(b, a.Token))
				os.Remove(filepath.Join(b, a.Record))
				return true
			}
			return false
		})
		mm.TreeSize, mm.Events, mm.LastSeq = keepCP.Size, keepCP.Size, keepCP.Size-1
		rewriteManifest(t, b, mm, nil)
		wantFailure(t, b, opts, "bundle", "manifest-signature", -1, -1)
	})
	t.Run("MsgSeqNumGapResealed", func(t *testing.T) {
		// A malicious operator, holding every key, deletes one inbound
		// message, re-chains, re-signs and re-seals the log: every
		// signature holds, and completeness still names the gap.
		b := copyTree(t, full)
		lines := readLines(t, b)
		victim := -1
		for i := mid; i < len(lines); i++ {
			if bytes.Contains(lines[i], []byte(`"MsgType":"8"`)) {
				victim = i
				break
			}
		}
		var next struct{ Header struct{ EventID string } }
		json.Unmarshal(lines[victim+1], &next)
		reseal(t, dir, b, slices.Delete(lines, victim, victim+1))
		rep := wantFailure(t, b, opts, "completeness", "MsgSeqNum", -1, -1)
		for _, f := range rep.Failures {
			if f.Layer != "completeness" {
				t.Errorf("a resealed log should fail only completeness; also got %s", f.Error())
			}
			if f.Layer == "completeness" && (f.Seq == nil || *f.Seq != uint64(victim) || f.EventID != next.Header.EventID) {
				t.Errorf("the gap names %v %s, want seq %d %s (the event after it)", f.Seq, f.EventID, victim, next.Header.EventID)
			}
		}
	})
	t.Run("SplitViewCheckpoint", func(t *testing.T) {
		// A second checkpoint, signed with the real key, for a tree that
		// is not an extension of the earlier one.
		b := copyTree(t, full)
		mm := readManifest(t, b)
		key, _ := seal.LoadKeyFile(filepath.Join(dir, "data", "checkpoint.skey"))
		last := mm.Checkpoints[len(mm.Checkpoints)-1]
		forged := sha256.Sum256([]byte("another history"))
		size := last.Size + 1
		text := mm.Origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(forged[:]) + "\n"
		signed, err := note.Sign(&note.Note{Text: text}, key.Signer)
		if err != nil {
			t.Fatal(err)
		}
		file := "checkpoints/forged.note"
		os.WriteFile(filepath.Join(b, file), signed, 0o644)
		// A proof that cannot hold: the real one from the previous tree.
		mm.Checkpoints = append(mm.Checkpoints, verify.CheckpointEntry{Size: size, File: file, Consistency: last.Consistency})
		mm.TreeSize = size
		rewriteManifest(t, b, mm, key.Signer)
		wantFailure(t, b, opts, "tree", "consistency", -1, int64(size))
	})
	t.Run("AnotherKey", func(t *testing.T) {
		b := copyTree(t, full)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		lines := readLines(t, b)
		re := regexp.MustCompile(`"KeyID":"[0-9a-f]+"`)
		sre := regexp.MustCompile(`"Signature":"[^"]+"`)
		for i, l := range lines {
			var e struct{ Security struct{ EventHash string } }
			json.Unmarshal(l, &e)
			h, _ := hex.DecodeString(e.Security.EventHash)
			sig := ed25519.Sign(other, h)
			l = re.ReplaceAll(l, []byte(`"KeyID":"`+verify.KeyIDOf(other.Public().(ed25519.PublicKey))+`"`))
			lines[i] = sre.ReplaceAll(l, []byte(`"Signature":"`+base64.StdEncoding.EncodeToString(sig)+`"`))
		}
		writeLines(t, b, lines)
		wantFailure(t, b, opts, "event", "Signature", 0, -1)
	})
}

// rewriteManifest re-hashes every file into m and writes it; with signer,
// re-signs manifest.note (an attacker holding the checkpoint key).
func rewriteManifest(t *testing.T, b string, m *verify.Manifest, signer note.Signer) {
	t.Helper()
	m.Files = nil
	fs.WalkDir(os.DirFS(b), ".", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() || p == verify.ManifestFile || p == verify.ManifestNote {
			return nil
		}
		data, _ := os.ReadFile(filepath.Join(b, p))
		h := sha256.Sum256(data)
		m.Files = append(m.Files, verify.File{Path: p, SHA256: hex.EncodeToString(h[:]), Size: int64(len(data))})
		return nil
	})
	mb, _ := json.MarshalIndent(m, "", "  ")
	mb = append(mb, '\n')
	os.WriteFile(filepath.Join(b, verify.ManifestFile), mb, 0o644)
	if signer != nil {
		h := sha256.Sum256(mb)
		signed, err := note.Sign(&note.Note{Text: verify.ManifestNoteText(m.Origin, hex.EncodeToString(h[:]))}, signer)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(b, verify.ManifestNote), signed, 0o644)
	}
}

// reseal rebuilds a full bundle from event lines as a key-holding operator
// could: re-numbered, re-chained, re-signed, a new tree and checkpoint,
// no anchors (a TSA would not back-date), a re-signed manifest.
func reseal(t *testing.T, dir, b string, lines [][]byte) {
	t.Helper()
	priv, err := chain.LoadPrivateKeyFile(filepath.Join(dir, "tap.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := seal.LoadKeyFile(filepath.Join(dir, "data", "checkpoint.skey"))
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var prev chain.Hash
	var out [][]byte
	var secs []chain.Security
	for i, l := range lines {
		var e struct {
			Header, Payload json.RawMessage
			Security        chain.Security
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		h := chain.EventHash(e.Header, e.Payload, prev, i == 0)
		sec := e.Security
		sec.EventHash, sec.PrevHash = h.String(), prev.String()
		sec.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, h[:]))
		idx := int64(i)
		sec.MerkleIndex = &idx
		hs, err := tlog.StoredHashes(int64(i), h[:], hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		line := append([]byte(`{"Header":`), e.Header...)
		line = append(append(line, `,"Payload":`...), e.Payload...)
		line = append(line, `,"Security":`...)
		out = append(out, line)
		prev = h
		secs = append(secs, sec)
	}
	n := int64(len(lines))
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		secs[i].MerkleRoot = hex.EncodeToString(root[:])
		out[i], _ = chain.AppendCanonical(out[i], &secs[i])
		out[i] = append(out[i], "}\n"...)
	}
	writeLines(t, b, out)
	mm := readManifest(t, b)
	for _, c := range mm.Checkpoints {
		os.Remove(filepath.Join(b, c.File))
	}
	for _, a := range mm.Anchors {
		os.Remove(filepath.Join(b, a.Token))
		os.Remove(filepath.Join(b, a.Record))
	}
	text := mm.Origin + "\n" + strconv.FormatInt(n, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
	signed, err := note.Sign(&note.Note{Text: text}, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	file := "checkpoints/resealed.note"
	os.WriteFile(filepath.Join(b, file), signed, 0o644)
	// Raw bytes follow their events' new seqs.
	os.Remove(filepath.Join(b, verify.RawFile))
	os.Remove(filepath.Join(b, verify.RawIndexFile))
	mm.RawRedacted = true
	mm.Checkpoints = []verify.CheckpointEntry{{Size: uint64(n), File: file, Consistency: []string{}}}
	mm.Anchors = []verify.AnchorEntry{}
	mm.TreeSize, mm.Events, mm.LastSeq = uint64(n), uint64(n), uint64(n-1)
	rewriteManifest(t, b, mm, key.Signer)
}

// TestBundleIndependentVerifiers checks a bundle's checkpoints and proofs
// with golang.org/x/mod/sumdb/note and github.com/transparency-dev/merkle,
// and its tokens with `openssl ts -verify`: none of them fixtap's code.
func TestBundleIndependentVerifiers(t *testing.T) {
	dir, _, order := demoBundles(t)
	m := readManifest(t, order)
	vkey, _ := os.ReadFile(filepath.Join(order, m.Keys.Checkpoint))
	ver, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	roots := map[uint64][]byte{}
	notes := map[uint64][]byte{}
	var prevSize uint64
	var prevRoot []byte
	for _, c := range m.Checkpoints {
		b, _ := os.ReadFile(filepath.Join(order, c.File))
		n, err := note.Open(b, note.VerifierList(ver))
		if err != nil {
			t.Fatalf("checkpoint %d: %v", c.Size, err)
		}
		parts := strings.Split(n.Text, "\n")
		root, _ := base64.StdEncoding.DecodeString(parts[2])
		roots[c.Size], notes[c.Size] = root, b
		if prevRoot != nil {
			var p [][]byte
			for _, h := range c.Consistency {
				x, _ := base64.StdEncoding.DecodeString(h)
				p = append(p, x)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, prevSize, c.Size, p, prevRoot, root); err != nil {
				t.Fatalf("consistency %d→%d: %v", prevSize, c.Size, err)
			}
		}
		prevSize, prevRoot = c.Size, root
	}
	pb, _ := os.ReadFile(filepath.Join(order, verify.ProofsFile))
	lines := readLines(t, order)
	for i, l := range bytes.Split(bytes.TrimSpace(pb), []byte("\n")) {
		var p verify.ProofLine
		json.Unmarshal(l, &p)
		var e struct{ Security struct{ EventHash string } }
		json.Unmarshal(lines[i], &e)
		h, _ := hex.DecodeString(e.Security.EventHash)
		var hs [][]byte
		for _, x := range p.Hashes {
			d, _ := base64.StdEncoding.DecodeString(x)
			hs = append(hs, d)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Seq, p.TreeSize, rfc6962.DefaultHasher.HashLeaf(h), hs, roots[p.TreeSize]); err != nil {
			t.Fatalf("inclusion of seq %d: %v", p.Seq, err)
		}
	}
	openssl := testenv.RequireTool(t, "openssl")
	for _, a := range m.Anchors {
		cmd := exec.Command(openssl, "ts", "-verify", "-in", filepath.Join(order, a.Token), "-token_in",
			"-data", filepath.Join(order, m.Checkpoints[slices.IndexFunc(m.Checkpoints, func(c verify.CheckpointEntry) bool { return c.Size == a.TreeSize })].File),
			"-CAfile", filepath.Join(dir, "tsa-root.pem"))
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
			t.Fatalf("openssl ts -verify of the anchor of %d: %v\n%s", a.TreeSize, err, out)
		}
	}
}

// TestVerifyCommand runs `fixtap verify` as a user would: exit status 0
// and VERIFIED for the demo's bundle (also as a .tar.gz archive and a
// one-event proof), JSON with -json, and a failure (errVerifyFailed, exit
// 1) naming the event for a mutated copy.
func TestVerifyCommand(t *testing.T) {
	dir, full, _ := demoBundles(t)
	cfg := filepath.Join(dir, "demo.cfg")
	pin := []string{"-key", filepath.Join(dir, "tap.key.pub"), "-tsa-roots", filepath.Join(dir, "tsa-root.pem")}
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"verify", full}, pin...), &out, &out); err != nil || !strings.Contains(out.String(), "VERIFIED") {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	arch := filepath.Join(t.TempDir(), "b.tar.gz")
	out.Reset()
	if err := run(context.Background(), []string{"export", "-config", cfg, "-seq", "100:400", "-redact-raw", "-o", arch}, &out, &out); err != nil {
		t.Fatalf("export: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"verify", "-json", arch}, &out, &out); err != nil {
		t.Fatalf("verify archive: %v\n%s", err, out.String())
	}
	var rep verify.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.OK || rep.Events != 300 || !rep.RawRedacted || rep.Inclusion != 300 {
		t.Fatalf("verify -json: %v %+v", err, rep)
	}
	proofDir := filepath.Join(t.TempDir(), "p")
	out.Reset()
	if err := run(context.Background(), []string{"proof", "-config", cfg, "-o", proofDir, "7"}, &out, &out); err != nil {
		t.Fatalf("proof: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), append([]string{"verify", proofDir}, pin...), &out, &out); err != nil {
		t.Fatalf("verify proof: %v\n%s", err, out.String())
	}
	// The proof's C2SP tlog-proof is checked too: a changed hash in it fails.
	p := filepath.Join(proofDir, "7.tlog-proof")
	b, _ := os.ReadFile(p)
	lines := strings.Split(string(b), "\n")
	lines[3] = base64.StdEncoding.EncodeToString(make([]byte, 32))
	os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
	wantFailure(t, proofDir, pinned(t, dir), "tree", "tlog-proof", -1, -1)

	bad := copyTree(t, full)
	ls := readLines(t, bad)
	ls[3] = bytes.Replace(ls[3], []byte(`"EventType":"`), []byte(`"EventType":"X`), 1)
	writeLines(t, bad, ls)
	out.Reset()
	err := run(context.Background(), append([]string{"verify", bad}, pin...), &out, &out)
	if !errors.Is(err, errVerifyFailed) || !strings.Contains(out.String(), "FAILED") || !strings.Contains(out.String(), "seq 3 ") {
		t.Fatalf("verify of a mutated bundle: %v\n%s", err, out.String())
	}
}
