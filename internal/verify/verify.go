// Package verify checks an exported fixtap bundle offline, with nothing but
// the bundle and trust roots (docs/bundle.md): every layer the tap built —
// canonical form, EventHash, chain links, signatures and raw FIX bytes
// (layer 1); the RFC 6962 tree, inclusion and consistency, checkpoint
// signatures (layer 2); RFC 3161 anchors (layer 3) — then completeness of
// each FIX session's MsgSeqNums and the tier's clock policy.
//
// It must not import Pebble, quickfix or anything that opens a network
// connection (a test enforces this): an auditor runs it on a machine that
// has only the bundle. It shares no code with the writer beyond the RFC
// 8785 and RFC 3161 checks (internal/jcs, internal/tsp), so a bug in how
// the tap encodes events is caught here, not repeated.
package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/jcs"
	"github.com/fixtap/fixtap/internal/tsp"
)

// Options are the trust anchors and knobs of a verification.
type Options struct {
	// EventKeys pins the event-signing public keys; nil trusts the keys in
	// the bundle (and the report says so).
	EventKeys []ed25519.PublicKey
	// CheckpointKey pins the checkpoint note verifier key (note vkey
	// format); "" trusts keys/checkpoint.vkey.
	CheckpointKey string
	// TSARoots pins the TSA trust roots; nil trusts keys/tsa-roots.pem.
	TSARoots *x509.CertPool
	// HashesOnly checks only the hashes, the chain links and the tree (and
	// the checkpoints and anchors): no canonical form, signatures, raw
	// bytes, completeness, policy or reconciliation. A quick integrity
	// pass (and the benchmark of those layers alone); the report
	// is not a full verification and OK is false.
	HashesOnly bool
	// SkipSignatures skips Ed25519 event signatures (a benchmark of the
	// rest; the report then is not a full verification and OK is false).
	SkipSignatures bool
	// WitnessPolicy pins the witness policy (Sigsum format, C2SP
	// cosignature/v1 keys); nil uses the bundle's keys/witness.policy if
	// there is one (and the report says so).
	WitnessPolicy []byte
	// StrictPolicy makes clock-policy findings failures.
	StrictPolicy bool
	// Workers verifying events in parallel; 0 means GOMAXPROCS.
	Workers int
	// MaxFailures caps the failures kept in the report (all are counted);
	// 0 means 1000.
	MaxFailures int
}

// Failure is one check that did not hold, with its evidence.
type Failure struct {
	Layer    string  `json:"Layer"` // bundle, event, tree, anchor, completeness, policy
	Check    string  `json:"Check"`
	Seq      *uint64 `json:"Seq,omitempty"`
	EventID  string  `json:"EventID,omitempty"`
	TreeSize *uint64 `json:"TreeSize,omitempty"`
	Detail   string  `json:"Detail"`
}

func (f Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s", f.Layer, f.Check)
	if f.Seq != nil {
		fmt.Fprintf(&b, " seq %d", *f.Seq)
	}
	if f.EventID != "" {
		fmt.Fprintf(&b, " (EventID %s)", f.EventID)
	}
	if f.TreeSize != nil {
		fmt.Fprintf(&b, " checkpoint %d", *f.TreeSize)
	}
	return b.String() + ": " + f.Detail
}

// Report is the outcome of a verification.
type Report struct {
	Format      string    `json:"Format"`
	Kind        string    `json:"Kind"`
	Origin      string    `json:"Origin"`
	Selection   Selection `json:"Selection"`
	TreeSize    uint64    `json:"TreeSize"`
	FirstSeq    uint64    `json:"FirstSeq"`
	LastSeq     uint64    `json:"LastSeq"`
	RawRedacted bool      `json:"RawRedacted"`
	Trust       Trust     `json:"Trust"`

	Events         uint64          `json:"Events"`
	Signatures     uint64          `json:"SignaturesChecked"`
	RawChecked     uint64          `json:"RawChecked"`
	Inclusion      uint64          `json:"InclusionProofsChecked"`
	Checkpoints    int             `json:"Checkpoints"`
	Anchors        []AnchorResult  `json:"Anchors"`
	EventTypes     map[string]int  `json:"EventTypes"`
	Sessions       []SessionRange  `json:"Sessions"`
	Completeness   string          `json:"Completeness"` // checked, or why not
	ClockStatuses  map[string]int  `json:"ClockStatuses"`
	PolicyFindings []PolicyFinding `json:"PolicyFindings"`
	PolicyCount    int             `json:"PolicyFindingCount"`
	Unanchored     *SeqRange       `json:"Unanchored,omitempty"`
	XRef           *XRefTotals     `json:"XRef,omitempty"`
	Witness        *WitnessReport  `json:"Witness,omitempty"`
	Warnings       []string        `json:"Warnings"`
	Failures       []Failure       `json:"Failures"`
	FailureCount   int             `json:"FailureCount"`
	OK             bool            `json:"OK"`
}

// Trust says where each trust anchor came from.
type Trust struct {
	EventKeys     string `json:"EventKeys"`
	CheckpointKey string `json:"CheckpointKey"`
	TSARoots      string `json:"TSARoots"`
}

const (
	trustPinned = "pinned on the command line"
	trustBundle = "taken from the bundle (not independently pinned)"
)

// AnchorResult is one verified (or not) anchor.
type AnchorResult struct {
	TreeSize uint64 `json:"TreeSize"`
	TSA      string `json:"TSA"`
	GenTime  string `json:"GenTime,omitempty"`
	Signer   string `json:"Signer,omitempty"`
	OK       bool   `json:"OK"`
}

// SessionRange summarises one FIX session epoch.
type SessionRange struct {
	SessionID string `json:"SessionID"`
	Epoch     int64  `json:"Epoch"`
	First     int64  `json:"FirstMsgSeqNum"`
	Last      int64  `json:"LastMsgSeqNum"`
	Delivered int    `json:"Delivered"`
	Accounted int64  `json:"AccountedNotDelivered"`
}

// SeqRange is an inclusive range of log seqs.
type SeqRange struct {
	First uint64 `json:"First"`
	Last  uint64 `json:"Last"`
}

// PolicyFinding is an event whose clock status is below its tier's.
type PolicyFinding struct {
	Seq      uint64 `json:"Seq"`
	EventID  string `json:"EventID"`
	Status   string `json:"ClockSyncStatus"`
	Tier     string `json:"Tier"`
	Required string `json:"Required"`
}

// tierRequires is the weakest clock status each tier accepts
// (docs/vcp-profile.md §9k): PLATINUM needs PTP, GOLD at least NTP sync,
// SILVER at least a reachable daemon.
var tierRequires = map[string]string{"PLATINUM": "PTP_LOCKED", "GOLD": "NTP_SYNCED", "SILVER": "BEST_EFFORT"}

var statusRank = map[string]int{"PTP_LOCKED": 3, "NTP_SYNCED": 2, "BEST_EFFORT": 1, "UNRELIABLE": 0}

// ErrFailed is returned by Verify when some check did not hold; the report
// says which.
var ErrFailed = errors.New("verify: bundle does not verify")

type verifier struct {
	fsys   fs.FS
	m      *Manifest
	opts   Options
	r      *Report
	maxF   int
	keys   map[string]ed25519.PublicKey
	cpVer  note.Verifier
	roots  *x509.CertPool
	files  map[string]File
	cps    []cp
	cpBy   map[uint64]int
	raw    io.ReaderAt
	rawIdx map[uint64][2]int64
	proofs map[uint64]ProofLine

	// per-event facts kept for the cross-checks after the stream
	times []int64 // capture time (ns) by line
	seqs  []uint64
	ids   []string
}

type cp struct {
	size    uint64
	root    [32]byte
	rootHex string // what each event's Security.MerkleRoot must say
	note    []byte
	ok      bool
}

// Verify checks the bundle in fsys. It returns the report, and ErrFailed
// when a check did not hold; any other error means the bundle could not be
// read at all.
func Verify(fsys fs.FS, opts Options) (*Report, error) {
	m, mbytes, err := ReadManifest(fsys)
	if err != nil {
		return nil, err
	}
	v := &verifier{fsys: fsys, m: m, opts: opts, maxF: opts.MaxFailures,
		r: &Report{Format: m.Format, Kind: m.Kind, Origin: m.Origin, Selection: m.Selection, TreeSize: m.TreeSize,
			FirstSeq: m.FirstSeq, LastSeq: m.LastSeq, RawRedacted: m.RawRedacted,
			EventTypes: map[string]int{}, ClockStatuses: map[string]int{}},
		cpBy: map[uint64]int{}, files: map[string]File{}}
	if v.maxF == 0 {
		v.maxF = 1000
	}
	if v.opts.Workers <= 0 {
		v.opts.Workers = runtime.GOMAXPROCS(0)
	}
	switch m.Kind {
	case KindFull, KindPartial, KindProof:
	default:
		v.fail(Failure{Layer: "bundle", Check: "kind", Detail: fmt.Sprintf("unknown bundle kind %q", m.Kind)})
	}
	if opts.HashesOnly {
		v.opts.SkipSignatures = true // nor counted as checked
	}
	v.loadTrust()
	v.checkManifestNote(mbytes)
	v.checkFiles()
	v.checkCheckpoints()
	v.checkWitnesses()
	v.checkAnchors()
	if err := v.checkEvents(); err != nil {
		return nil, err
	}
	v.crossChecks()
	if opts.HashesOnly {
		v.r.Warnings = append(v.r.Warnings, "hashes, chain links and tree only (HashesOnly): canonical form, signatures, raw bytes, completeness, policy and reconciliation were not checked")
	} else if opts.SkipSignatures {
		v.r.Warnings = append(v.r.Warnings, "event signatures were not checked (SkipSignatures)")
	}
	v.r.OK = v.r.FailureCount == 0 && !opts.SkipSignatures && !opts.HashesOnly
	sort.SliceStable(v.r.Failures, func(i, j int) bool { return seqOf(v.r.Failures[i]) < seqOf(v.r.Failures[j]) })
	if v.r.FailureCount > 0 {
		return v.r, ErrFailed
	}
	return v.r, nil
}

func seqOf(f Failure) uint64 {
	if f.Seq == nil {
		return 0
	}
	return *f.Seq + 1
}

func (v *verifier) fail(f Failure) {
	v.r.FailureCount++
	if len(v.r.Failures) < v.maxF {
		v.r.Failures = append(v.r.Failures, f)
	}
}

func u64p(x uint64) *uint64 { return &x }

func (v *verifier) failEvent(check string, seq uint64, id, format string, args ...any) {
	v.fail(Failure{Layer: "event", Check: check, Seq: u64p(seq), EventID: id, Detail: fmt.Sprintf(format, args...)})
}

// loadTrust loads the keys and roots, pinned or from the bundle.
func (v *verifier) loadTrust() {
	v.keys = map[string]ed25519.PublicKey{}
	if v.opts.EventKeys != nil {
		v.r.Trust.EventKeys = trustPinned
		for _, k := range v.opts.EventKeys {
			v.keys[KeyIDOf(k)] = k
		}
	} else {
		v.r.Trust.EventKeys = trustBundle
		for _, k := range v.m.Keys.Events {
			b, err := fs.ReadFile(v.fsys, k.File)
			if err != nil {
				v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("event key %s: %v", k.File, err)})
				continue
			}
			pub, err := ParsePublicKeyPEM(b)
			if err != nil {
				v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("event key %s: %v", k.File, err)})
				continue
			}
			if id := KeyIDOf(pub); id != k.KeyID {
				v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("event key %s has KeyID %s, manifest says %s", k.File, id, k.KeyID)})
			}
			v.keys[KeyIDOf(pub)] = pub
		}
	}
	vkey := v.opts.CheckpointKey
	v.r.Trust.CheckpointKey = trustPinned
	if vkey == "" {
		v.r.Trust.CheckpointKey = trustBundle
		b, err := fs.ReadFile(v.fsys, v.m.Keys.Checkpoint)
		if err != nil {
			v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("checkpoint key: %v", err)})
		}
		vkey = strings.TrimSpace(string(b))
	}
	if vkey != "" {
		ver, err := note.NewVerifier(vkey)
		if err != nil {
			v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("checkpoint key %q: %v", vkey, err)})
		}
		v.cpVer = ver
	}
	if v.opts.TSARoots != nil {
		v.r.Trust.TSARoots, v.roots = trustPinned, v.opts.TSARoots
	} else if v.m.Keys.TSARoots != "" {
		v.r.Trust.TSARoots = trustBundle
		b, err := fs.ReadFile(v.fsys, v.m.Keys.TSARoots)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(b) {
			v.fail(Failure{Layer: "bundle", Check: "keys", Detail: fmt.Sprintf("TSA roots %s: unreadable or no PEM certificates", v.m.Keys.TSARoots)})
		} else {
			v.roots = pool
		}
	} else {
		v.r.Trust.TSARoots = "none"
	}
}

// KeyIDOf is the profile's KeyID: hex of the first 8 bytes of SHA-256 of
// the raw public key.
func KeyIDOf(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// ParsePublicKeyPEM parses a PEM SubjectPublicKeyInfo Ed25519 key.
func ParsePublicKeyPEM(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an Ed25519 key", k)
	}
	return pub, nil
}

func (v *verifier) checkManifestNote(mbytes []byte) {
	b, err := fs.ReadFile(v.fsys, ManifestNote)
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "manifest-signature", Detail: fmt.Sprintf("manifest.note: %v", err)})
		return
	}
	if v.cpVer == nil {
		v.fail(Failure{Layer: "bundle", Check: "manifest-signature", Detail: "no checkpoint key to verify manifest.note with"})
		return
	}
	n, err := note.Open(b, note.VerifierList(v.cpVer))
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "manifest-signature", Detail: fmt.Sprintf("manifest.note does not verify with checkpoint key %s: %v", v.cpVer.Name(), err)})
		return
	}
	h := sha256.Sum256(mbytes)
	if want := ManifestNoteText(v.m.Origin, hex.EncodeToString(h[:])); n.Text != want {
		v.fail(Failure{Layer: "bundle", Check: "manifest-signature", Detail: fmt.Sprintf("manifest.note signs %q, but manifest.json is %q", n.Text, want)})
	}
}

// checkFiles checks every listed file's SHA-256 (events.jsonl is hashed
// while it streams) and that no file is unlisted.
func (v *verifier) checkFiles() {
	for _, f := range v.m.Files {
		v.files[f.Path] = f
		if f.Path == EventsFile {
			continue
		}
		b, err := fs.ReadFile(v.fsys, f.Path)
		if err != nil {
			v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("%s: %v", f.Path, err)})
			continue
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != f.SHA256 || int64(len(b)) != f.Size {
			v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("%s: SHA-256 %x (%d bytes), manifest says %s (%d bytes)", f.Path, h, len(b), f.SHA256, f.Size)})
		}
	}
	_ = fs.WalkDir(v.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == ManifestFile || p == ManifestNote {
			return nil
		}
		if _, ok := v.files[p]; !ok {
			v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("%s is in the bundle but not in the manifest", p)})
		}
		return nil
	})
	if _, ok := v.files[EventsFile]; !ok {
		v.fail(Failure{Layer: "bundle", Check: "file", Detail: "the manifest lists no events.jsonl"})
	}
}

// checkCheckpoints verifies each checkpoint's note signature and text, and
// the consistency proofs chaining them (layer 2).
func (v *verifier) checkCheckpoints() {
	var prev *cp
	for i, e := range v.m.Checkpoints {
		size := e.Size
		failCP := func(check, format string, args ...any) {
			v.fail(Failure{Layer: "tree", Check: check, TreeSize: u64p(size), Detail: fmt.Sprintf(format, args...)})
		}
		c := cp{size: size}
		b, err := fs.ReadFile(v.fsys, e.File)
		if err != nil {
			failCP("checkpoint", "%v", err)
			v.cps = append(v.cps, c)
			continue
		}
		c.note = b
		if v.cpVer != nil {
			n, err := note.Open(b, note.VerifierList(v.cpVer))
			if err != nil {
				failCP("checkpoint-signature", "%s does not verify with %s: %v", e.File, v.cpVer.Name(), err)
			} else if origin, sz, root, err := ParseCheckpointText(n.Text); err != nil {
				failCP("checkpoint", "%s: %v", e.File, err)
			} else if origin != v.m.Origin || sz != size {
				failCP("checkpoint", "%s is (%q, %d), manifest says (%q, %d)", e.File, origin, sz, v.m.Origin, size)
			} else {
				c.root, c.rootHex, c.ok = root, hex.EncodeToString(root[:]), true
			}
		}
		if prev != nil && size <= prev.size {
			failCP("checkpoint", "sizes must increase: %d after %d", size, prev.size)
		}
		if i > 0 && prev != nil && prev.ok && c.ok {
			proof, err := decodeHashes(e.Consistency)
			if err != nil {
				failCP("consistency", "proof from %d: %v", prev.size, err)
			} else if err := tlog.CheckTree(proof, int64(size), tlog.Hash(c.root), int64(prev.size), tlog.Hash(prev.root)); err != nil {
				failCP("consistency", "not consistent with checkpoint %d (split view?): %v", prev.size, err)
			}
		}
		v.cpBy[size] = len(v.cps)
		v.cps = append(v.cps, c)
		prev = &v.cps[len(v.cps)-1]
	}
	v.r.Checkpoints = len(v.cps)
	if len(v.cps) == 0 {
		v.fail(Failure{Layer: "tree", Check: "checkpoint", Detail: "the bundle holds no checkpoint"})
	} else if last := v.cps[len(v.cps)-1].size; last != v.m.TreeSize {
		v.fail(Failure{Layer: "tree", Check: "checkpoint", TreeSize: u64p(last), Detail: fmt.Sprintf("newest checkpoint is %d, manifest says TreeSize %d", last, v.m.TreeSize)})
	}
}

func decodeHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("hash %d %q: want base64 of 32 bytes", i, s)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// anchorRecord is the VCP AnchorRecord as stored (docs/vcp-profile.md §3).
type anchorRecord struct {
	MerkleRoot   string
	TreeSize     uint64
	Signature    string
	SignAlgo     string
	KeyID        string
	Timestamp    string
	AnchorTarget struct{ Type, Identifier, Proof string }
	EventCount   uint64
	FirstEventID string
	LastEventID  string
	PolicyID     string
	Checkpoint   []byte
}

// checkAnchors verifies every token against its checkpoint note (layer 3).
func (v *verifier) checkAnchors() {
	for _, a := range v.m.Anchors {
		res := AnchorResult{TreeSize: a.TreeSize, TSA: a.TSA}
		failA := func(format string, args ...any) {
			v.fail(Failure{Layer: "anchor", Check: "token", TreeSize: u64p(a.TreeSize), Detail: a.TSA + ": " + fmt.Sprintf(format, args...)})
		}
		func() {
			i, ok := v.cpBy[a.TreeSize]
			if !ok || !v.cps[i].ok {
				failA("anchors checkpoint %d, which the bundle does not hold verified", a.TreeSize)
				return
			}
			c := v.cps[i]
			tok, err := fs.ReadFile(v.fsys, a.Token)
			if err != nil {
				failA("%v", err)
				return
			}
			ts, err := tsp.Parse(tok)
			if err != nil {
				failA("%v", err)
				return
			}
			if v.roots == nil {
				failA("no TSA trust roots given or in the bundle")
				return
			}
			signer, err := tsp.Verify(ts, c.note, tsp.Policy{Roots: v.roots})
			if err != nil {
				failA("%v", err)
				return
			}
			res.GenTime = ts.Time.UTC().Format(time.RFC3339Nano)
			res.Signer = signer.Subject.String()
			rb, err := fs.ReadFile(v.fsys, a.Record)
			if err != nil {
				failA("AnchorRecord: %v", err)
				return
			}
			var rec anchorRecord
			if err := json.Unmarshal(rb, &rec); err != nil {
				failA("AnchorRecord: %v", err)
				return
			}
			var diffs []string
			check := func(name string, ok bool) {
				if !ok {
					diffs = append(diffs, name)
				}
			}
			check("TreeSize", rec.TreeSize == a.TreeSize)
			check("MerkleRoot", rec.MerkleRoot == hex.EncodeToString(c.root[:]))
			check("Checkpoint", bytes.Equal(rec.Checkpoint, c.note))
			check("AnchorTarget.Proof", rec.AnchorTarget.Proof == base64.StdEncoding.EncodeToString(tok))
			check("AnchorTarget.Identifier", rec.AnchorTarget.Identifier == a.TSA && rec.AnchorTarget.Type == "TSA")
			check("Timestamp", rec.Timestamp == ts.Time.UTC().Format(time.RFC3339Nano))
			check("EventCount", rec.EventCount == a.TreeSize)
			if pub, ok := v.keys[rec.KeyID]; !ok {
				diffs = append(diffs, "KeyID "+rec.KeyID+" (not a trusted event key)")
			} else if sig, err := base64.StdEncoding.DecodeString(rec.Signature); err != nil || !ed25519.Verify(pub, c.root[:], sig) {
				diffs = append(diffs, "Signature (Ed25519 over the root)")
			}
			if len(diffs) > 0 {
				failA("AnchorRecord disagrees with the token or checkpoint: %s", strings.Join(diffs, ", "))
				return
			}
			res.OK = true
		}()
		v.r.Anchors = append(v.r.Anchors, res)
	}
}

// evResult is what a worker found in one event line. Its byte slices
// alias the job's block (see job).
type evResult struct {
	err      string // a parse failure; nothing else is valid
	seq      uint64
	hasSeq   bool
	id       string // "" in a hashes-only pass until a check names the event (collector.idOf)
	hash     [32]byte
	prev     [32]byte
	leaf     [32]byte // the RFC 6962 leaf hash of hash
	merkle   []byte   // Security.MerkleRoot
	rawHdr   []byte   // the Header's bytes, to read the EventID from when needed
	failures []Failure
	hdr      header
	pay      payload
	time     int64
	sig      *batchItem // a well-formed signature awaiting its batch
	sigPub   ed25519.PublicKey
	keyID    string
}

// job is one block of events.jsonl read at once, the lines in it and
// what the workers found in them. A job is recycled, block and results,
// once the file hasher and the collector are done with it; the collector
// keeps the job of the last event it took (collector.last) until a newer
// event arrives, so the slices into that block stay valid.
type job struct {
	first int    // line number of lines[0]
	buf   []byte // the block; lines alias it
	fresh []byte // the bytes this job read from the file (the block less the carried partial line): what the file hash takes
	lines [][]byte
	res   []evResult
	done  chan struct{} // one-buffered: the worker is done with res
	refs  atomic.Int32  // the hasher and the collector hold it
}

// lineScratch is a worker's reusable state.
type lineScratch struct {
	tr  jcs.Transformer
	d   hash.Hash
	sum []byte
}

// checkEvents streams events.jsonl through the workers (layer 1, per
// event) and an in-order collector (chain links, tree, completeness),
// while one goroutine takes the file's SHA-256 for the manifest: a
// reader fills one-megabyte blocks and hands each to the hasher, to a
// worker, and (in order) to the collector.
func (v *verifier) checkEvents() error {
	if v.m.Kind != KindFull {
		if err := v.loadProofs(); err != nil {
			v.fail(Failure{Layer: "tree", Check: "inclusion", Detail: err.Error()})
		}
	}
	v.loadRaw()
	f, err := v.fsys.Open(EventsFile)
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("events.jsonl: %v", err)})
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		// The manifest's count, as far as the file can hold that many
		// lines (each at least {"Header":{},"Payload":{},"Security":{}}).
		hint := min(v.m.Events, uint64(st.Size())/42)
		v.times, v.seqs, v.ids = make([]int64, 0, hint), make([]uint64, 0, hint), make([]string, 0, hint)
	}

	// Enough jobs for every stage to have one queued and one in hand.
	nJobs := 4*v.opts.Workers + 4
	free := make(chan *job, nJobs)
	for range nJobs {
		free <- &job{done: make(chan struct{}, 1)}
	}
	release := func(j *job) {
		if j.refs.Add(-1) == 0 {
			free <- j // never blocks: free holds every job
		}
	}
	work := make(chan *job, nJobs)
	ordered := make(chan *job, nJobs)
	hashq := make(chan *job, nJobs)

	var wg sync.WaitGroup
	for range v.opts.Workers {
		wg.Go(func() {
			sc := lineScratch{d: sha256.New(), sum: make([]byte, 0, sha256.Size)}
			for j := range work {
				for i, line := range j.lines {
					j.res[i] = evResult{}
					v.checkLine(line, &j.res[i], &sc)
				}
				if !v.opts.SkipSignatures {
					v.checkSignatures(j.res)
				}
				j.done <- struct{}{}
			}
		})
	}
	digest := sha256.New()
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for j := range hashq {
			digest.Write(j.fresh)
			release(j)
		}
	}()

	var readErr error
	var size int64
	go func() {
		defer close(hashq)
		defer close(ordered)
		defer close(work)
		// Read in blocks; a job's lines alias its block (no copy per
		// line). A line longer than a block grows the block.
		const block = 1 << 20
		n := 0
		var carry []byte
		send := func(j *job, lines []byte) {
			j.first = n
			j.lines = j.lines[:0]
			for len(lines) > 0 {
				i := bytes.IndexByte(lines, '\n')
				j.lines = append(j.lines, lines[:i])
				lines = lines[i+1:]
			}
			n += len(j.lines)
			if cap(j.res) < len(j.lines) {
				j.res = make([]evResult, len(j.lines))
			}
			j.res = j.res[:len(j.lines)]
			j.refs.Store(2)
			hashq <- j
			work <- j
			ordered <- j
		}
		for {
			j := <-free
			if need := max(block, 2*len(carry)); cap(j.buf) < need {
				j.buf = make([]byte, need)
			}
			buf := j.buf[:cap(j.buf)]
			copy(buf, carry)
			k, err := io.ReadFull(f, buf[len(carry):])
			j.fresh = buf[len(carry) : len(carry)+k]
			buf = buf[:len(carry)+k]
			size += int64(k)
			last := bytes.LastIndexByte(buf, '\n')
			carry = append(carry[:0], buf[last+1:]...)
			send(j, buf[:last+1])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				readErr = err
				break
			}
		}
		if len(carry) > 0 {
			readErr = fmt.Errorf("line %d is not newline-terminated", n+1)
			j := <-free
			j.buf = append(append(j.buf[:0], carry...), '\n')
			j.fresh = nil // hashed with the block it was read into
			send(j, j.buf)
		}
	}()

	c := collector{v: v, epochs: map[epochKey]*epochState{}}
	var holding *job // the job of c.last
	for j := range ordered {
		<-j.done
		last := c.last
		for i := range j.res {
			c.add(j.first+i, &j.res[i])
		}
		if c.last == last { // nothing here became the last event
			release(j)
			continue
		}
		if holding != nil {
			release(holding)
		}
		holding = j
	}
	wg.Wait()
	<-hashed
	if readErr != nil {
		v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("events.jsonl: %v", readErr)})
	}
	if fe, ok := v.files[EventsFile]; ok {
		if h := hex.EncodeToString(digest.Sum(nil)); h != fe.SHA256 || size != fe.Size {
			v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("events.jsonl: SHA-256 %s (%d bytes), manifest says %s (%d bytes)", h, size, fe.SHA256, fe.Size)})
		}
	}
	c.finish()
	return nil
}

func (v *verifier) loadRaw() {
	if v.m.RawRedacted {
		return
	}
	idx, err := fs.ReadFile(v.fsys, RawIndexFile)
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("raw.idx: %v (the bundle is not marked RawRedacted)", err)})
		return
	}
	v.rawIdx = map[uint64][2]int64{}
	for ln, line := range bytes.Split(bytes.TrimSuffix(idx, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		fields := strings.Fields(string(line))
		var nums [3]int64
		ok := len(fields) == 3
		for i := 0; ok && i < 3; i++ {
			n, err := strconv.ParseInt(fields[i], 10, 64)
			nums[i], ok = n, err == nil && n >= 0
		}
		if !ok {
			v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("raw.idx line %d: want \"<seq> <offset> <length>\"", ln+1)})
			return
		}
		v.rawIdx[uint64(nums[0])] = [2]int64{nums[1], nums[2]}
	}
	f, err := v.fsys.Open(RawFile)
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("raw.fix: %v", err)})
		return
	}
	if ra, ok := f.(io.ReaderAt); ok {
		v.raw = ra // closed with the process; the verifier is short-lived
		return
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		v.fail(Failure{Layer: "bundle", Check: "file", Detail: fmt.Sprintf("raw.fix: %v", err)})
		return
	}
	v.raw = bytes.NewReader(b)
}

func (v *verifier) loadProofs() error {
	b, err := fs.ReadFile(v.fsys, ProofsFile)
	if err != nil {
		return fmt.Errorf("proofs.jsonl: %w", err)
	}
	v.proofs = map[uint64]ProofLine{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	for {
		var p ProofLine
		if err := dec.Decode(&p); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("proofs.jsonl: %w", err)
		}
		v.proofs[p.Seq] = p
	}
}

// checkLine does every check of one event that needs no other event.
func (v *verifier) checkLine(line []byte, r *evResult, sc *lineScratch) {
	v.checkLineAlone(line, r, sc)
	if r.err == "" {
		r.leaf = leafHash(r.hash)
	}
}

func (v *verifier) checkLineAlone(line []byte, r *evResult, sc *lineScratch) {
	var s securityView
	hdr, pay, sec, err := parseLine(line, &s)
	if err != nil {
		r.err = err.Error()
		return
	}
	r.seq, r.hasSeq = uint64(s.MerkleIndex), s.HasIndex
	r.merkle, r.rawHdr = s.MerkleRoot, hdr
	if v.opts.HashesOnly {
		v.checkHash(hdr, pay, &s, r, sc)
		return
	}
	if err := extractHeader(hdr, &r.hdr); err != nil {
		r.err = "Header: " + err.Error()
		return
	}
	r.id = r.hdr.EventID
	if err := extractPayloadTrade(pay, &r.pay, v.m.XRef > 0); err != nil {
		r.err = "Payload: " + err.Error()
		return
	}
	r.time, _ = strconv.ParseInt(r.hdr.TimestampInt, 10, 64)
	fail := func(check, format string, args ...any) {
		r.failures = append(r.failures, Failure{Layer: "event", Check: check, Seq: u64p(r.seq), EventID: r.id, Detail: fmt.Sprintf(format, args...)})
	}
	if !r.hasSeq {
		fail("MerkleIndex", "Security.MerkleIndex is missing")
	}
	// Canonical form: each member must be its own RFC 8785 form (the
	// members are already in sorted order, so the line is canonical too).
	for _, m := range []struct {
		name string
		b    []byte
	}{{"Header", hdr}, {"Payload", pay}, {"Security", sec}} {
		if jcs.IsCanonical(m.b) {
			continue
		}
		c, err := sc.tr.Transform(m.b) // for the evidence: what differs
		if err != nil {
			fail("canonical", "%s is not valid JSON for RFC 8785: %v", m.name, err)
		} else if !bytes.Equal(c, m.b) {
			fail("canonical", "%s is not in RFC 8785 canonical form (%d bytes, canonical %d)", m.name, len(m.b), len(c))
		}
	}
	// EventHash = SHA-256(JCS(Header) ‖ JCS(Payload) ‖ PrevHash hex); the
	// genesis event (seq 0) appends nothing (docs/vcp-profile.md §3).
	if string(s.Version) != "1.1" || string(s.HashAlgo) != "SHA256" {
		fail("Security", "Version %q, HashAlgo %q: want 1.1, SHA256", s.Version, s.HashAlgo)
	}
	stored, err1 := parseHex32(s.EventHash)
	prev, err2 := parseHex32(s.PrevHash)
	if err1 != nil || err2 != nil {
		fail("EventHash", "EventHash %q / PrevHash %q: want 64 lowercase hex digits", s.EventHash, s.PrevHash)
		return
	}
	r.hash, r.prev = stored, prev
	if got := sc.eventHash(hdr, pay, s.PrevHash, r.hasSeq && r.seq == 0); got != stored {
		fail("EventHash", "recomputed %x, stored %s", got, s.EventHash)
	}
	if !v.opts.SkipSignatures {
		pub, ok := v.keys[string(s.KeyID)]
		sig := make([]byte, base64.StdEncoding.DecodedLen(len(s.Signature)))
		n, err := base64.StdEncoding.Decode(sig, s.Signature)
		sig = sig[:n]
		switch {
		case len(s.Signature) == 0:
			fail("Signature", "the event is not signed")
		case !ok:
			fail("Signature", "KeyID %q is not a trusted event-signing key", s.KeyID)
		case string(s.SignAlgo) != "ED25519" || err != nil || len(sig) != ed25519.SignatureSize:
			fail("Signature", "SignAlgo %q, Signature %q: want ED25519 and 64 base64 bytes", s.SignAlgo, s.Signature)
		default:
			// Checked with the rest of the chunk (batch.go).
			r.sig, r.sigPub = &batchItem{msg: stored, sig: sig}, pub
			r.keyID = string(s.KeyID)
		}
	}
	// Raw FIX bytes against FIX.RawSHA256.
	if v.rawIdx != nil && r.hasSeq {
		loc, hasRaw := v.rawIdx[r.seq]
		var want string
		if r.pay.FIX != nil {
			want = r.pay.FIX.RawSHA256
		}
		switch {
		case hasRaw && want == "":
			fail("RawSHA256", "raw bytes are exported but the event carries no FIX.RawSHA256 to bind them")
		case !hasRaw && want != "":
			fail("RawSHA256", "FIX.RawSHA256 is %s but the bundle has no raw bytes for the event", want)
		case hasRaw:
			buf := make([]byte, loc[1])
			if v.raw == nil {
				fail("RawSHA256", "raw.fix is missing")
			} else if _, err := v.raw.ReadAt(buf, loc[0]); err != nil {
				fail("RawSHA256", "raw bytes at %d+%d: %v", loc[0], loc[1], err)
			} else if h := sha256.Sum256(buf); hex.EncodeToString(h[:]) != want {
				fail("RawSHA256", "raw FIX bytes hash to %x, FIX.RawSHA256 is %s", h, want)
			} else {
				r.failures = append(r.failures, Failure{Check: "raw-ok"})
			}
		}
	}
}

// eventHash is SHA-256(Header ‖ Payload ‖ PrevHash), without PrevHash for
// the genesis event (docs/vcp-profile.md §3).
func (sc *lineScratch) eventHash(hdr, pay, prevHex []byte, genesis bool) [32]byte {
	sc.d.Reset()
	sc.d.Write(hdr)
	sc.d.Write(pay)
	if !genesis {
		sc.d.Write(prevHex)
	}
	return [32]byte(sc.d.Sum(sc.sum[:0]))
}

// parseHex32 decodes 64 lowercase hex digits.
func parseHex32(s []byte) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, errors.New("want 64 lowercase hex digits")
	}
	for i := range h {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		if hi|lo > 0xf {
			return h, errors.New("want 64 lowercase hex digits")
		}
		h[i] = hi<<4 | lo
	}
	return h, nil
}

// hexVal maps a lowercase hex digit to its value, anything else to 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

// maxClockSkew is how far a TSA's genTime may precede the tap's capture
// time of an event it covers before the order is called impossible: the
// two clocks are different machines (the tap's bound is in each event).
const maxClockSkew = time.Second

func parseRFC3339(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// checkSignatures verifies the chunk's well-formed signatures in one batch
// per key; a signature that fails is named with its event.
func (v *verifier) checkSignatures(res []evResult) {
	byKey := map[string][]*batchItem{}
	pubs := map[string]ed25519.PublicKey{}
	for i := range res {
		if r := &res[i]; r.sig != nil {
			byKey[r.keyID] = append(byKey[r.keyID], r.sig)
			pubs[r.keyID] = r.sigPub
		}
	}
	for id, items := range byKey {
		verifyBatch(pubs[id], items)
	}
	for i := range res {
		r := &res[i]
		if r.sig != nil && !r.sig.ok {
			r.failures = append(r.failures, Failure{Layer: "event", Check: "Signature", Seq: u64p(r.seq), EventID: r.id,
				Detail: fmt.Sprintf("Ed25519 signature by KeyID %s does not verify over EventHash %x", r.keyID, r.hash)})
		}
	}
}

// checkHash is the EventHash check alone (HashesOnly). The EventID is read
// only when the hash fails, to name the event.
func (v *verifier) checkHash(hdr, pay []byte, s *securityView, r *evResult, sc *lineScratch) {
	stored, err1 := parseHex32(s.EventHash)
	prev, err2 := parseHex32(s.PrevHash)
	if err1 != nil || err2 != nil || !r.hasSeq {
		r.err = fmt.Sprintf("Security: EventHash %q, PrevHash %q, MerkleIndex present %v", s.EventHash, s.PrevHash, r.hasSeq)
		return
	}
	r.hash, r.prev = stored, prev
	if got := sc.eventHash(hdr, pay, s.PrevHash, r.seq == 0); got != stored {
		extractHeader(hdr, &r.hdr)
		r.id = r.hdr.EventID
		r.failures = append(r.failures, Failure{Layer: "event", Check: "EventHash", Seq: u64p(r.seq), EventID: r.id,
			Detail: fmt.Sprintf("recomputed %x, stored %s", got, s.EventHash)})
	}
}
