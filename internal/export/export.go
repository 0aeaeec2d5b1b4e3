// Package export writes evidence bundles (format fixtap-bundle/1,
// docs/bundle.md; the format's types live in internal/verify, which reads
// them) from a tap's log: the selected events exactly as hashed, their raw
// FIX bytes, the checkpoints covering them with a consistency proof chain,
// inclusion proofs, RFC 3161 anchors, the public keys, and a manifest with
// the SHA-256 of every file, signed by the log's checkpoint key.
//
// It reads a chain.Log and a seal.Sealer opened read-only (or live); it
// covers only events below the newest checkpoint, which covers only fsync'd
// events, so a bundle never shows what a crash could still take back.
package export

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tsp"
	"github.com/fixtap/fixtap/internal/verify"
)

// Source is what an export reads and signs with.
type Source struct {
	Log  *chain.Log
	Seal *seal.Sealer
	// Origin is the log's checkpoint origin.
	Origin string
	// ManifestSigner signs manifest.note: the checkpoint key's note signer.
	ManifestSigner note.Signer
	// CheckpointVKey is the checkpoint note verifier key.
	CheckpointVKey string
	// EventKeys are the event-signing public keys the log's events may
	// carry (the current key, and retired ones).
	EventKeys []ed25519.PublicKey
	// TSARootsPEM are the TSA trust roots the tap is configured with
	// (exported for the auditor's convenience; an auditor should pin their
	// own with verify -tsa-roots).
	TSARootsPEM    []byte
	Tier, PolicyID string
	// Cosigned, if set, returns the witness-cosigned note of the
	// checkpoint of tree size size (internal/witness), ok false when that
	// checkpoint was not cosigned. LatestCosigned returns the newest
	// cosigned tree size. With witnessing configured the bundle stops at
	// the newest cosigned checkpoint — what was published and anchored —
	// and every checkpoint file is the cosigned note where one exists.
	Cosigned       func(size uint64) (note []byte, ok bool, err error)
	LatestCosigned func() (size uint64, ok bool, err error)
	// WitnessPolicy is the tap's witness policy file, copied into the
	// bundle for reference (an auditor checks against their own copy).
	WitnessPolicy []byte
	// Now is the exporting host's wall time, for the manifest's Created
	// (not evidence).
	Now func() time.Time
}

// Request says what to export.
type Request struct {
	Selection verify.Selection
	// Seqs are the selected log seqs (any order, duplicates ignored); nil
	// with All exports the whole log up to the newest checkpoint.
	Seqs []uint64
	All  bool
	// Kind overrides the bundle kind (verify.KindProof for fixtap proof).
	Kind string
	// RedactRaw leaves the raw FIX bytes out (their hashes stay in the events).
	RedactRaw bool
	// XRefRecords also writes xref.jsonl: each VCP-XREF outcome in the
	// bundle with ExpectedCounterpartyHash, the SHA-256 of the exact wire
	// bytes of the counterparty's message as this tap received it, which
	// the counterparty can look up in its own log (docs/bundle.md).
	XRefRecords bool
}

// ErrEmpty is returned when the selection holds no sealed event.
var ErrEmpty = errors.New("export: the selection holds no sealed event")

// UnsignedError reports a selected event whose signature is not written yet.
type UnsignedError struct{ Seq uint64 }

func (e *UnsignedError) Error() string {
	return fmt.Sprintf("export: event seq %d has no signature yet (the tap signs beside the chain; retry in a moment)", e.Seq)
}

// KeyError reports an event signed by a key the export was not given.
type KeyError struct {
	Seq   uint64
	KeyID string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("export: event seq %d is signed by KeyID %s, which is not among the event keys given", e.Seq, e.KeyID)
}

// WriteDir writes a bundle into dir, which must not exist yet, and returns
// its manifest.
func WriteDir(ctx context.Context, src *Source, req Request, dir string) (*verify.Manifest, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("export: %s already exists", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	w := &writer{src: src, req: req, dir: dir, hashes: map[string]verify.File{}}
	m, err := w.write(ctx)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

// WriteArchive writes a bundle as one tar archive (gzip-compressed when
// the name ends in .gz or .tgz) at path: it builds the bundle in a
// temporary directory beside path, archives it, and removes the directory.
func WriteArchive(ctx context.Context, src *Source, req Request, path string) (*verify.Manifest, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("export: %s already exists", path)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".fixtap-export-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "bundle")
	m, err := WriteDir(ctx, src, req, dir)
	if err != nil {
		return nil, err
	}
	if err := archiveDir(dir, path, strings.HasSuffix(path, ".gz") || strings.HasSuffix(path, ".tgz")); err != nil {
		os.Remove(path)
		return nil, err
	}
	return m, nil
}

func archiveDir(dir, path string, gz bool) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("export: %w", cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var out io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw)
		out = zw
	}
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st, err := d.Info()
		if err != nil {
			return err
		}
		// Fixed metadata: the archive's bytes depend only on the bundle.
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("export: archive %s: %w", path, err)
	}
	return nil
}

type writer struct {
	src    *Source
	req    Request
	dir    string
	hashes map[string]verify.File
	files  []string
}

// file creates a bundle file whose SHA-256 goes into the manifest.
type file struct {
	w    *writer
	path string
	f    *os.File
	bw   *bufio.Writer
	h    hashWriter
	n    int64
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func (w *writer) create(rel string) (*file, error) {
	p := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &file{w: w, path: rel, f: f, bw: bufio.NewWriterSize(f, 256<<10), h: sha256.New()}, nil
}

func (f *file) Write(b []byte) (int, error) {
	f.h.Write(b)
	f.n += int64(len(b))
	return f.bw.Write(b)
}

func (f *file) Close() error {
	err := f.bw.Flush()
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", f.path, err)
	}
	f.w.hashes[f.path] = verify.File{Path: f.path, SHA256: hex.EncodeToString(f.h.Sum(nil)), Size: f.n}
	f.w.files = append(f.w.files, f.path)
	return nil
}

func (w *writer) writeFile(rel string, b []byte) error {
	f, err := w.create(rel)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.f.Close()
		return fmt.Errorf("export: %s: %w", rel, err)
	}
	return f.Close()
}

func (w *writer) write(ctx context.Context) (*verify.Manifest, error) {
	src, req := w.src, w.req
	newest, err := src.Seal.Latest()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if src.LatestCosigned != nil {
		size, ok, err := src.LatestCosigned()
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if ok && size < newest.Size {
			if newest, err = src.Seal.Checkpoint(size); err != nil {
				return nil, fmt.Errorf("export: %w", err)
			}
		}
	}
	n := newest.Size
	kind := verify.KindPartial
	var seqs []uint64
	if req.All {
		kind = verify.KindFull
	} else {
		for _, s := range req.Seqs {
			if s < n {
				seqs = append(seqs, s)
			}
		}
		slices.Sort(seqs)
		seqs = slices.Compact(seqs)
		if len(seqs) == 0 {
			return nil, fmt.Errorf("%w (newest checkpoint covers %d events)", ErrEmpty, n)
		}
		if uint64(len(seqs)) == n { // the whole log after all
			kind = verify.KindFull
		}
	}
	if req.Kind != "" {
		kind = req.Kind
	}
	full := kind == verify.KindFull
	if full && n == 0 {
		return nil, ErrEmpty
	}
	count := uint64(len(seqs))
	first, last := uint64(0), n-1
	if full {
		count = n
	} else {
		first, last = seqs[0], seqs[len(seqs)-1]
	}

	// Checkpoints: every one up to n (full), or the first covering each
	// event plus the anchored ones that seal them and the newest (partial).
	all, err := src.Seal.Checkpoints(1, n+1)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(all) == 0 || all[len(all)-1].Size != n {
		all = append(all, newest)
	}
	sizes := make([]uint64, len(all))
	byS := map[uint64]*seal.Checkpoint{}
	for i, c := range all {
		sizes[i] = c.Size
		byS[c.Size] = c
	}
	firstCovering := func(seq uint64) *seal.Checkpoint {
		i := sort.Search(len(sizes), func(i int) bool { return sizes[i] > seq })
		return all[i]
	}
	anchors, err := src.Seal.Anchors()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	anchors = slices.DeleteFunc(anchors, func(a *seal.AnchorRecord) bool { return a.TreeSize > n || byS[a.TreeSize] == nil })
	keep := map[uint64]bool{n: true}
	if full {
		for _, s := range sizes {
			keep[s] = true
		}
	} else {
		var maxFC uint64
		for _, s := range seqs {
			fc := firstCovering(s).Size
			keep[fc] = true
			maxFC = max(maxFC, fc)
		}
		// The first anchored checkpoint at or after every event's first
		// covering one: the consistency chain reaches it, so every event is
		// proven to belong to the anchored log.
		for _, a := range anchors {
			if a.TreeSize >= maxFC {
				keep[a.TreeSize] = true
				break
			}
		}
	}
	var cps []*seal.Checkpoint
	for _, c := range all {
		if keep[c.Size] {
			cps = append(cps, c)
		}
	}
	anchors = slices.DeleteFunc(anchors, func(a *seal.AnchorRecord) bool { return !keep[a.TreeSize] })

	m := &verify.Manifest{Format: verify.Format, Kind: kind, Origin: src.Origin, Selection: req.Selection,
		TreeSize: n, Events: count, FirstSeq: first, LastSeq: last, RawRedacted: req.RedactRaw,
		Tier: src.Tier, PolicyID: src.PolicyID, Checkpoints: []verify.CheckpointEntry{}, Anchors: []verify.AnchorEntry{}}
	if src.Now != nil {
		m.Created = src.Now().UTC().Format(time.RFC3339)
	}

	// Checkpoints and the consistency chain.
	var prev *seal.Checkpoint
	for _, c := range cps {
		e := verify.CheckpointEntry{Size: c.Size, File: fmt.Sprintf("checkpoints/%020d.note", c.Size), Consistency: []string{}}
		if prev != nil {
			p, err := src.Seal.ConsistencyProof(prev.Size, c.Size)
			if err != nil {
				return nil, fmt.Errorf("export: %w", err)
			}
			e.Consistency = encodeHashes(p)
		}
		body := c.Note
		if src.Cosigned != nil {
			cn, ok, err := src.Cosigned(c.Size)
			if err != nil {
				return nil, fmt.Errorf("export: %w", err)
			}
			if ok {
				body = cn
			}
		}
		if err := w.writeFile(e.File, body); err != nil {
			return nil, err
		}
		m.Checkpoints = append(m.Checkpoints, e)
		prev = c
	}
	// Anchors, and the certificates the tokens carry (the TSA's chain).
	var chainPEM []byte
	seenCert := map[[32]byte]bool{}
	for _, a := range anchors {
		tok, err := base64.StdEncoding.DecodeString(a.AnchorTarget.Proof)
		if err != nil {
			return nil, fmt.Errorf("export: anchor %d by %s: token: %w", a.TreeSize, a.AnchorTarget.Identifier, err)
		}
		if ts, err := tsp.Parse(tok); err == nil {
			certs, _ := tsp.Certificates(ts)
			for _, c := range certs {
				if h := sha256.Sum256(c.Raw); !seenCert[h] {
					seenCert[h] = true
					chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
				}
			}
		}
		id := sha256.Sum256([]byte(a.AnchorTarget.Identifier))
		base := fmt.Sprintf("anchors/%020d-%x", a.TreeSize, id[:4])
		rec, err := json.MarshalIndent(a, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if err := w.writeFile(base+".tst", tok); err != nil {
			return nil, err
		}
		if err := w.writeFile(base+".json", append(rec, '\n')); err != nil {
			return nil, err
		}
		m.Anchors = append(m.Anchors, verify.AnchorEntry{TreeSize: a.TreeSize, TSA: a.AnchorTarget.Identifier, Token: base + ".tst", Record: base + ".json"})
	}

	// Events, raw bytes, proofs.
	keyIDs, err := w.writeEvents(ctx, m, seqs, firstCovering, full)
	if err != nil {
		return nil, err
	}

	// Keys.
	known := map[string]ed25519.PublicKey{}
	for _, k := range src.EventKeys {
		known[chain.KeyIDOf(k).String()] = k
	}
	ids := make([]string, 0, len(keyIDs))
	for id := range keyIDs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		pub, ok := known[id]
		if !ok {
			return nil, &KeyError{Seq: keyIDs[id], KeyID: id}
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		p := "keys/event-" + id + ".pub"
		if err := w.writeFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
			return nil, err
		}
		m.Keys.Events = append(m.Keys.Events, verify.EventKey{KeyID: id, File: p})
	}
	m.Keys.Checkpoint = "keys/checkpoint.vkey"
	if err := w.writeFile(m.Keys.Checkpoint, []byte(src.CheckpointVKey+"\n")); err != nil {
		return nil, err
	}
	if len(src.TSARootsPEM) > 0 {
		m.Keys.TSARoots = "keys/tsa-roots.pem"
		if err := w.writeFile(m.Keys.TSARoots, src.TSARootsPEM); err != nil {
			return nil, err
		}
	}
	if len(src.WitnessPolicy) > 0 {
		m.Keys.WitnessPolicy = "keys/witness.policy"
		if err := w.writeFile(m.Keys.WitnessPolicy, src.WitnessPolicy); err != nil {
			return nil, err
		}
	}
	if len(chainPEM) > 0 {
		m.Keys.TSAChain = "keys/tsa-chain.pem"
		if err := w.writeFile(m.Keys.TSAChain, chainPEM); err != nil {
			return nil, err
		}
	}
	if kind == verify.KindProof && len(seqs) == 1 {
		if err := w.writeTlogProof(seqs[0], firstCovering(seqs[0])); err != nil {
			return nil, err
		}
	}

	// Manifest, then its signature.
	sort.Strings(w.files)
	for _, p := range w.files {
		m.Files = append(m.Files, w.hashes[p])
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	mb = append(mb, '\n')
	if err := os.WriteFile(filepath.Join(w.dir, verify.ManifestFile), mb, 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	h := sha256.Sum256(mb)
	signed, err := note.Sign(&note.Note{Text: verify.ManifestNoteText(src.Origin, hex.EncodeToString(h[:]))}, src.ManifestSigner)
	if err != nil {
		return nil, fmt.Errorf("export: sign manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, verify.ManifestNote), signed, 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		return nil, err
	}
	return m, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("export: sync %s: %w", dir, err)
	}
	return nil
}

func encodeHashes[H ~[32]byte](hs []H) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// writeEvents writes events.jsonl, raw.fix/raw.idx and (partial bundles)
// proofs.jsonl, and returns the KeyIDs the events carry, each with the
// first seq signed by it.
func (w *writer) writeEvents(ctx context.Context, m *verify.Manifest, seqs []uint64, firstCovering func(uint64) *seal.Checkpoint, full bool) (map[string]uint64, error) {
	ev, err := w.create(verify.EventsFile)
	if err != nil {
		return nil, err
	}
	var raw, idx, proofs *file
	if !m.RawRedacted {
		if raw, err = w.create(verify.RawFile); err != nil {
			return nil, err
		}
		if idx, err = w.create(verify.RawIndexFile); err != nil {
			return nil, err
		}
	}
	if !full {
		if proofs, err = w.create(verify.ProofsFile); err != nil {
			return nil, err
		}
	}
	keyIDs := map[string]uint64{}
	var line []byte
	var rawOff int64
	var xrefs [][]byte
	rawSHA := map[string]string{} // EventID → FIX.RawSHA256, for xref.jsonl
	one := func(r *chain.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !r.Signed {
			return &UnsignedError{Seq: r.Seq}
		}
		if err := r.Check(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if bytes.Contains(r.Payload, []byte(`"VCP-XREF":`)) {
			m.XRef++
			if w.req.XRefRecords {
				var p struct {
					XRef json.RawMessage `json:"VCP-XREF"`
				}
				if err := json.Unmarshal(r.Payload, &p); err != nil {
					return fmt.Errorf("export: seq %d: %w", r.Seq, err)
				}
				xrefs = append(xrefs, p.XRef)
			}
		}
		if w.req.XRefRecords && bytes.Contains(r.Payload, []byte(`"VCP-TRADE":`)) {
			var h struct{ EventID string }
			var p struct{ FIX struct{ RawSHA256 string } }
			if json.Unmarshal(r.Header, &h) == nil && json.Unmarshal(r.Payload, &p) == nil {
				rawSHA[h.EventID] = p.FIX.RawSHA256
			}
		}
		fc := firstCovering(r.Seq)
		// r is signed (checked above): this is its Security.KeyID.
		id := hex.EncodeToString(r.KeyID[:])
		if _, ok := keyIDs[id]; !ok {
			keyIDs[id] = r.Seq
		}
		line, err = AppendEventLine(line[:0], r, fc.Root)
		if err != nil {
			return err
		}
		if _, err := ev.Write(line); err != nil {
			return err
		}
		if raw != nil && len(r.Raw) > 0 {
			if _, err := raw.Write(r.Raw); err != nil {
				return err
			}
			fmt.Fprintf(idx, "%d %d %d\n", r.Seq, rawOff, len(r.Raw))
			rawOff += int64(len(r.Raw))
		}
		if proofs != nil {
			p, err := w.src.Seal.InclusionProof(r.Seq, fc.Size)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			b, err := json.Marshal(verify.ProofLine{Seq: r.Seq, TreeSize: fc.Size, Hashes: encodeHashes(p)})
			if err != nil {
				return err
			}
			if _, err := proofs.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		return nil
	}
	if full {
		err = w.src.Log.Range(0, m.TreeSize, one)
	} else {
		// Contiguous runs are read with one iterator each.
		for i := 0; i < len(seqs) && err == nil; {
			j := i + 1
			for j < len(seqs) && seqs[j] == seqs[j-1]+1 {
				j++
			}
			err = w.src.Log.Range(seqs[i], seqs[j-1]+1, one)
			i = j
		}
	}
	for _, f := range []*file{ev, raw, idx, proofs} {
		if f == nil {
			continue
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}
	if w.req.XRefRecords {
		if err := w.writeXRef(xrefs, rawSHA); err != nil {
			return nil, err
		}
	}
	return keyIDs, nil
}

// writeXRef writes xref.jsonl: every VCP-XREF block of the bundle, in log
// order, with ExpectedCounterpartyHash added (empty when the counterparty
// event is not in the bundle, or for a TIMEOUT that never got one).
func (w *writer) writeXRef(xrefs [][]byte, rawSHA map[string]string) error {
	f, err := w.create(verify.XRefFile)
	if err != nil {
		return err
	}
	for _, x := range xrefs {
		var m map[string]any
		if err := json.Unmarshal(x, &m); err != nil {
			f.f.Close()
			return fmt.Errorf("export: xref: %w", err)
		}
		id, _ := m["CounterpartyEventID"].(string)
		m["ExpectedCounterpartyHash"] = rawSHA[id]
		b, err := json.Marshal(m)
		if err != nil {
			f.f.Close()
			return fmt.Errorf("export: xref: %w", err)
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.f.Close()
			return err
		}
	}
	return f.Close()
}

// writeTlogProof writes <seq>.tlog-proof: the event's inclusion proof in
// the C2SP tlog-proof format (https://c2sp.org/tlog-proof), with the
// checkpoint it is against. The extra line carries the event's EventHash
// (raw, base64), the leaf's data, so the file stands alone.
func (w *writer) writeTlogProof(seq uint64, c *seal.Checkpoint) error {
	p, err := w.src.Seal.InclusionProof(seq, c.Size)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	r, err := w.src.Log.Get(seq)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return w.writeFile(strconv.FormatUint(seq, 10)+".tlog-proof", FormatTlogProof(seq, r.Hash[:], p, c.Note))
}

// FormatTlogProof formats a C2SP tlog-proof@v1.
func FormatTlogProof(index uint64, extra []byte, proof []tlog.Hash, checkpointNote []byte) []byte {
	var b strings.Builder
	b.WriteString("c2sp.org/tlog-proof@v1\n")
	if len(extra) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatUint(index, 10) + "\n")
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(checkpointNote)
	return []byte(b.String())
}
