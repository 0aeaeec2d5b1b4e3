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
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/verify"
)

// benchEvents is the bundle size of BenchmarkVerify: 100k by default so
// that the test script's one pass stays quick; set
// FIXTAP_VERIFY_BENCH_EVENTS=1000000 for the 1M-event figure.
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("FIXTAP_VERIFY_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// TestMain removes the synthetic bundle (1.3 GB at 1M events).
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var (
	benchOnce sync.Once
	benchDir  string
	benchPub  ed25519.PublicKey
)

// synthBundle writes a full bundle of n realistic execution-report events
// (signed, chained, one checkpoint, signed manifest; raw bytes redacted).
func synthBundle(b *testing.B, n int) string {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fixtap-verify-bench-")
		if err != nil {
			b.Fatal(err)
		}
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		benchPub = pub
		skey, vkey, _ := note.GenerateKey(rand.Reader, "fixtap/bench")
		signer, _ := note.NewSigner(skey)
		f, _ := os.Create(filepath.Join(dir, verify.EventsFile))
		digest := sha256.New()
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
					OrdStatus: "1", ExecType: "F", TransactTime: "20261119-09:06:40.123"},
			}
			hdr, _ := chain.AppendCanonical(nil, &h)
			pay, err := chain.AppendCanonical(nil, &p)
			if err != nil {
				b.Fatal(err)
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
		root, _ := tlog.TreeHash(int64(n), hr)
		var size int64
		for _, l := range lines {
			l.sec.MerkleRoot = hex.EncodeToString(root[:])
			out := append([]byte(`{"Header":`), l.hdr...)
			out = append(append(out, `,"Payload":`...), l.pay...)
			out = append(out, `,"Security":`...)
			out, _ = chain.AppendCanonical(out, &l.sec)
			out = append(out, "}\n"...)
			f.Write(out)
			digest.Write(out)
			size += int64(len(out))
		}
		f.Close()
		origin := "fixtap/bench"
		cp, _ := note.Sign(&note.Note{Text: origin + "\n" + strconv.Itoa(n) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"}, signer)
		os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755)
		os.WriteFile(filepath.Join(dir, "checkpoints/cp.note"), cp, 0o644)
		os.WriteFile(filepath.Join(dir, "vkey"), []byte(vkey+"\n"), 0o644)
		sum := func(p string) verify.File {
			d, _ := os.ReadFile(filepath.Join(dir, p))
			h := sha256.Sum256(d)
			return verify.File{Path: p, SHA256: hex.EncodeToString(h[:]), Size: int64(len(d))}
		}
		m := verify.Manifest{Format: verify.Format, Kind: verify.KindFull, Origin: origin, Selection: verify.Selection{By: "all"},
			TreeSize: uint64(n), Events: uint64(n), LastSeq: uint64(n - 1), RawRedacted: true,
			Checkpoints: []verify.CheckpointEntry{{Size: uint64(n), File: "checkpoints/cp.note", Consistency: []string{}}},
			Anchors:     []verify.AnchorEntry{}, Keys: verify.Keys{Checkpoint: "vkey"},
			Files: []verify.File{sum("checkpoints/cp.note"), {Path: verify.EventsFile, SHA256: hex.EncodeToString(digest.Sum(nil)), Size: size}, sum("vkey")}}
		mb, _ := json.MarshalIndent(m, "", "  ")
		os.WriteFile(filepath.Join(dir, verify.ManifestFile), mb, 0o644)
		mh := sha256.Sum256(mb)
		mn, _ := note.Sign(&note.Note{Text: verify.ManifestNoteText(origin, hex.EncodeToString(mh[:]))}, signer)
		os.WriteFile(filepath.Join(dir, verify.ManifestNote), mn, 0o644)
		benchDir = dir
	})
	return benchDir
}

// BenchmarkVerify verifies a full bundle with and without signatures and
// reports events/s (all cores) and events/s per core.
//
//	FIXTAP_VERIFY_BENCH_EVENTS=1000000 go test -run '^$' -bench BenchmarkVerify -benchtime 3x ./internal/verify
func BenchmarkVerify(b *testing.B) {
	n := benchEvents()
	dir := synthBundle(b, n)
	for _, mode := range []string{"signatures", "no-signatures", "hashes-chain-tree"} {
		b.Run(mode, func(b *testing.B) {
			opts := verify.Options{EventKeys: []ed25519.PublicKey{benchPub}, SkipSignatures: mode != "signatures", HashesOnly: mode == "hashes-chain-tree"}
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				rep, err := verify.Verify(os.DirFS(dir), opts)
				if rep == nil || rep.FailureCount != 0 || rep.Events != uint64(n) {
					b.Fatalf("verify: %v %+v", err, rep)
				}
			}
			evs := float64(n) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(evs, "events/s")
			b.ReportMetric(evs/float64(maxProcs()), "events/s/core")
			// CPU time per event: robust when other work shares the cores.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n*b.N), "cpu-µs/event")
		})
	}
}
