package verify_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/verify"
)

// synth is a synthetic full bundle of realistic execution-report events
// (about 1.7 KB each: signed, chained, checkpointed, the manifest signed;
// raw bytes redacted), written with internal/chain's encoder, not the
// verifier's code.
type synth struct {
	dir    string
	pub    ed25519.PublicKey
	signer note.Signer
	vkey   string
	origin string
}

// synthConfig shapes a synthetic bundle.
type synthConfig struct {
	// Checkpoints are the tree sizes of the bundle's checkpoints, in
	// increasing order, the last the number of events; nil means one.
	Checkpoints []int
	// Padding makes the Trade.Text of event i that many bytes long (a
	// line longer than the verifier's read block, say).
	Padding map[int]int
}

func writeSynth(tb testing.TB, dir string, n int, cfg synthConfig) *synth {
	tb.Helper()
	if cfg.Checkpoints == nil {
		cfg.Checkpoints = []int{n}
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	origin := "fixtap/bench"
	skey, vkey, _ := note.GenerateKey(rand.Reader, origin)
	signer, _ := note.NewSigner(skey)
	s := &synth{dir: dir, pub: pub, signer: signer, vkey: vkey, origin: origin}
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var prev chain.Hash
	type line struct {
		hdr, pay []byte
		sec      chain.Security
	}
	lines := make([]line, n)
	for i := range n {
		ts := int64(1795000000_000000000) + int64(i)*1000
		h := chain.Header{EventID: fmt.Sprintf("01a2%04x-0000-7000-8000-%012x", i>>16, i), TraceID: "01a20000-0000-8000-8000-000000000001",
			TimestampInt: strconv.FormatInt(ts, 10), TimestampISO: "2026-11-19T09:06:40.000000000Z", EventType: chain.PRT, EventTypeCode: 5,
			TimestampPrecision: chain.PrecisionNanosecond, ClockSyncStatus: chain.NTPSynced, HashAlgo: chain.HashAlgoSHA256,
			VenueID: "XDMO", Symbol: "ACME", AccountID: "acc_0011223344556677"}
		p := chain.Payload{
			Clock: &chain.Clock{Source: "NTP", MaxErrorNs: "250000", SnapshotAgeMs: 400},
			FIX: &chain.FIX{BeginString: "FIX.4.4", SessionID: "FIX.4.4:TAP->BROKER", MsgType: "8", MsgSeqNum: int64(i + 1),
				SendingTime: "20261119-09:06:40.123456", RawSHA256: hex.EncodeToString(make([]byte, 32))},
			PolicyIdentification: &chain.PolicyIdentification{Version: "1.1", PolicyID: "bench", ConformanceTier: "SILVER",
				RegistrationPolicy: chain.RegistrationPolicy{Issuer: "bench"},
				VerificationDepth:  chain.VerificationDepth{HashChainValidation: true, MerkleProofRequired: true, ExternalAnchorRequired: true}},
			Trade: &chain.Trade{ClOrdID: "C" + strconv.Itoa(i), OrderID: "O" + strconv.Itoa(i), ExecID: "E" + strconv.Itoa(i),
				Side: "1", OrderType: "2", TimeInForce: "0", Price: "101.25", Quantity: "1000", ExecutionPrice: "101.25", ExecutedQty: "100", CumQty: "300", RemainingQty: "700", Currency: "USD",
				OrdStatus: "1", ExecType: "F", TransactTime: "20261119-09:06:40.123", Text: strings.Repeat("x", cfg.Padding[i])},
		}
		hdr, _ := chain.AppendCanonical(nil, &h)
		pay, err := chain.AppendCanonical(nil, &p)
		if err != nil {
			tb.Fatal(err)
		}
		eh := chain.EventHash(hdr, pay, prev, i == 0)
		hs, _ := tlog.StoredHashes(int64(i), eh[:], hr)
		stored = append(stored, hs...)
		idx := int64(i)
		lines[i] = line{hdr, pay, chain.Security{Version: "1.1", EventHash: eh.String(), PrevHash: prev.String(), HashAlgo: "SHA256",
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, eh[:])), SignAlgo: "ED25519",
			KeyID: verify.KeyIDOf(pub), MerkleIndex: &idx}}
		prev = eh
	}
	os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755)
	var entries []verify.CheckpointEntry
	roots := make([]tlog.Hash, len(cfg.Checkpoints))
	for k, size := range cfg.Checkpoints {
		roots[k], _ = tlog.TreeHash(int64(size), hr)
		cp, _ := note.Sign(&note.Note{Text: origin + "\n" + strconv.Itoa(size) + "\n" + base64.StdEncoding.EncodeToString(roots[k][:]) + "\n"}, signer)
		e := verify.CheckpointEntry{Size: uint64(size), File: fmt.Sprintf("checkpoints/%d.note", size), Consistency: []string{}}
		if k > 0 {
			proof, err := tlog.ProveTree(int64(size), int64(cfg.Checkpoints[k-1]), hr)
			if err != nil {
				tb.Fatal(err)
			}
			for _, h := range proof {
				e.Consistency = append(e.Consistency, base64.StdEncoding.EncodeToString(h[:]))
			}
		}
		os.WriteFile(filepath.Join(dir, e.File), cp, 0o644)
		entries = append(entries, e)
	}
	f, err := os.Create(filepath.Join(dir, verify.EventsFile))
	if err != nil {
		tb.Fatal(err)
	}
	k := 0
	for i, l := range lines {
		for i >= cfg.Checkpoints[k] {
			k++
		}
		l.sec.MerkleRoot = hex.EncodeToString(roots[k][:])
		out := append([]byte(`{"Header":`), l.hdr...)
		out = append(append(out, `,"Payload":`...), l.pay...)
		out = append(out, `,"Security":`...)
		out, _ = chain.AppendCanonical(out, &l.sec)
		out = append(out, "}\n"...)
		f.Write(out)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vkey"), []byte(vkey+"\n"), 0o644)
	m := verify.Manifest{Format: verify.Format, Kind: verify.KindFull, Origin: origin, Selection: verify.Selection{By: "all"},
		TreeSize: uint64(n), Events: uint64(n), LastSeq: uint64(n - 1), RawRedacted: true,
		Checkpoints: entries, Anchors: []verify.AnchorEntry{}, Keys: verify.Keys{Checkpoint: "vkey"}}
	s.writeManifest(tb, &m)
	return s
}

// writeManifest lists every file of the bundle with its SHA-256 in m,
// writes it and signs it.
func (s *synth) writeManifest(tb testing.TB, m *verify.Manifest) {
	tb.Helper()
	m.Files = nil
	filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(s.dir, p)
		if err != nil || d.IsDir() || rel == verify.ManifestFile || rel == verify.ManifestNote {
			return err
		}
		b, err := os.ReadFile(p)
		h := sha256.Sum256(b)
		m.Files = append(m.Files, verify.File{Path: filepath.ToSlash(rel), SHA256: hex.EncodeToString(h[:]), Size: int64(len(b))})
		return err
	})
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(s.dir, verify.ManifestFile), mb, 0o644); err != nil {
		tb.Fatal(err)
	}
	mh := sha256.Sum256(mb)
	mn, _ := note.Sign(&note.Note{Text: verify.ManifestNoteText(s.origin, hex.EncodeToString(mh[:]))}, s.signer)
	if err := os.WriteFile(filepath.Join(s.dir, verify.ManifestNote), mn, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// manifest reads the bundle's manifest.
func (s *synth) manifest(tb testing.TB) *verify.Manifest {
	tb.Helper()
	m, _, err := verify.ReadManifest(os.DirFS(s.dir))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
