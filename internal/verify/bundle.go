package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing/fstest"
)

// Bundle format fixtap-bundle/1 (docs/bundle.md). A bundle is a directory,
// or the same tree in one tar archive (optionally gzip-compressed):
//
//	manifest.json        what is inside: selection, ranges, checkpoints,
//	                     anchors, keys, and the SHA-256 of every other file
//	manifest.note        a C2SP signed note by the log's checkpoint key whose
//	                     text is "fixtap-bundle/1\n<origin>\n<hex SHA-256 of manifest.json>\n"
//	events.jsonl         one event per line, in log order: the RFC 8785 form
//	                     of {"Header","Payload","Security"}, where Header and
//	                     Payload are byte for byte what the EventHash covers
//	                     and Security carries MerkleIndex (= log seq) and
//	                     MerkleRoot (the root of the first checkpoint covering it)
//	raw.fix              the raw FIX bytes of the events, concatenated in event order
//	raw.idx              one line per event that has raw bytes: "<seq> <offset> <length>"
//	                     (both absent with RawRedacted: only FIX.RawSHA256 remains)
//	proofs.jsonl         partial bundles: one RFC 6962 inclusion proof per event,
//	                     against the first checkpoint covering it
//	checkpoints/<size>.note   the signed checkpoints (C2SP tlog-checkpoint)
//	anchors/<size>-<tsa>.tst  RFC 3161 TimeStampTokens (DER) over a checkpoint note
//	anchors/<size>-<tsa>.json the VCP AnchorRecord stored with the token
//	keys/event-<keyid>.pub    event-signing public keys (PEM SubjectPublicKeyInfo)
//	keys/checkpoint.vkey      the checkpoint note verifier key
//	keys/tsa-roots.pem        the TSA trust roots the tap was configured with
//	keys/tsa-chain.pem        the certificates the tokens carry (TSA signer, intermediates)
//	<seq>.tlog-proof     proof bundles (fixtap proof): the event's C2SP tlog-proof
//	xref.jsonl           export -xref: each VCP-XREF outcome with ExpectedCounterpartyHash
const (
	Format       = "fixtap-bundle/1"
	ManifestFile = "manifest.json"
	ManifestNote = "manifest.note"
	EventsFile   = "events.jsonl"
	RawFile      = "raw.fix"
	RawIndexFile = "raw.idx"
	ProofsFile   = "proofs.jsonl"
	XRefFile     = "xref.jsonl"
)

// Bundle kinds.
const (
	KindFull    = "full"    // every event of the log up to TreeSize: the tree is recomputed
	KindPartial = "partial" // a selection: every event carries an inclusion proof
	KindProof   = "proof"   // one event (fixtap proof)
)

// Manifest is manifest.json.
type Manifest struct {
	Format string `json:"Format"`
	Kind   string `json:"Kind"`
	// Origin is the log's identity, the first line of its checkpoints.
	Origin    string    `json:"Origin"`
	Selection Selection `json:"Selection"`
	// Created is the exporting host's wall time: informational, not evidence.
	Created string `json:"Created"`
	// TreeSize is the size of the bundle's newest checkpoint; every event
	// in the bundle is below it.
	TreeSize uint64 `json:"TreeSize"`
	// Events is the number of lines of events.jsonl; FirstSeq and LastSeq
	// the log seqs of its first and last.
	Events      uint64 `json:"Events"`
	FirstSeq    uint64 `json:"FirstSeq"`
	LastSeq     uint64 `json:"LastSeq"`
	RawRedacted bool   `json:"RawRedacted"`
	// XRef counts the VCP-XREF outcome events in events.jsonl, so the
	// verifier knows to keep what it needs to re-check them.
	XRef        uint64            `json:"XRef,omitempty"`
	Tier        string            `json:"Tier,omitempty"`
	PolicyID    string            `json:"PolicyID,omitempty"`
	Checkpoints []CheckpointEntry `json:"Checkpoints"`
	Anchors     []AnchorEntry     `json:"Anchors"`
	Keys        Keys              `json:"Keys"`
	Files       []File            `json:"Files"`
}

// Selection says which events were exported.
type Selection struct {
	By      string `json:"By"` // "all", "seq", "time", "session", "order", "event"
	From    string `json:"From,omitempty"`
	To      string `json:"To,omitempty"`
	Session string `json:"Session,omitempty"`
	Order   string `json:"Order,omitempty"`
}

// CheckpointEntry is one checkpoint of the bundle, in size order.
// Consistency is the RFC 6962 consistency proof (standard base64 hashes)
// from the previous entry's tree to this one; empty for the first.
type CheckpointEntry struct {
	Size        uint64   `json:"Size"`
	File        string   `json:"File"`
	Consistency []string `json:"Consistency"`
}

// AnchorEntry is one RFC 3161 anchor of a bundle checkpoint.
type AnchorEntry struct {
	TreeSize uint64 `json:"TreeSize"`
	TSA      string `json:"TSA"`
	Token    string `json:"Token"`  // DER TimeStampToken file
	Record   string `json:"Record"` // AnchorRecord JSON file
}

// Keys names the key files.
type Keys struct {
	Events     []EventKey `json:"Events"`
	Checkpoint string     `json:"Checkpoint"`
	TSARoots   string     `json:"TSARoots,omitempty"`
	// TSAChain holds the certificates the tokens carry (the TSAs' signing
	// certificates and any intermediates), for the auditor to inspect;
	// trust still comes from the roots.
	TSAChain string `json:"TSAChain,omitempty"`
	// WitnessPolicy is the tap's witness policy (Sigsum format), for
	// reference: the verifier trusts the auditor's own copy
	// (-witness-policy) and reports one taken from the bundle as such.
	WitnessPolicy string `json:"WitnessPolicy,omitempty"`
}

// EventKey is one event-signing public key.
type EventKey struct {
	KeyID string `json:"KeyID"`
	File  string `json:"File"`
}

// File is one file of the bundle and its SHA-256 (lowercase hex).
type File struct {
	Path   string `json:"Path"`
	SHA256 string `json:"SHA256"`
	Size   int64  `json:"Size"`
}

// ProofLine is one line of proofs.jsonl.
type ProofLine struct {
	Seq      uint64   `json:"Seq"`
	TreeSize uint64   `json:"TreeSize"`
	Hashes   []string `json:"Hashes"`
}

// ManifestNoteText is the text the manifest note signs.
func ManifestNoteText(origin string, manifestSHA256 string) string {
	return Format + "\n" + origin + "\n" + manifestSHA256 + "\n"
}

// ErrNotBundle is returned for a path that holds no fixtap bundle.
var ErrNotBundle = errors.New("verify: not a fixtap bundle")

// OpenPath opens a bundle directory or archive (.tar, .tar.gz, .tgz) as an
// fs.FS. An archive is read into memory (bounded by maxArchive).
func OpenPath(p string) (fs.FS, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if st.IsDir() {
		return os.DirFS(p), nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	return ReadArchive(f)
}

// maxArchive caps what ReadArchive keeps in memory.
const maxArchive = 16 << 30

// ReadArchive reads a tar archive, gzip-compressed or not, into an fs.FS.
// Only regular files and directories are accepted; paths must be clean and
// relative.
func ReadArchive(r io.Reader) (fs.FS, error) {
	br := newPeekReader(r)
	var src io.Reader = br
	if head, _ := br.peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("verify: archive: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	m := fstest.MapFS{}
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("verify: archive: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		name = strings.TrimSuffix(name, "/")
		if name == "" || name == "." {
			continue
		}
		if !fs.ValidPath(name) || path.Clean(name) != name {
			return nil, fmt.Errorf("verify: archive: bad path %q", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("verify: archive: %q is not a regular file", h.Name)
		}
		if total += h.Size; total > maxArchive {
			return nil, fmt.Errorf("verify: archive larger than %d bytes", int64(maxArchive))
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("verify: archive %s: %w", name, err)
		}
		m[name] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	// A bundle archived with a top directory ("bundle/manifest.json") is
	// accepted as if archived from inside it.
	if _, ok := m[ManifestFile]; !ok {
		var top string
		for name := range m {
			if dir, base, ok := strings.Cut(name, "/"); ok && base == ManifestFile {
				top = dir
			}
		}
		if top != "" {
			sub := fstest.MapFS{}
			for name, f := range m {
				if rest, ok := strings.CutPrefix(name, top+"/"); ok {
					sub[rest] = f
				}
			}
			m = sub
		}
	}
	return m, nil
}

type peekReader struct {
	r   io.Reader
	buf []byte
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		k, err := p.r.Read(b)
		p.buf = append(p.buf, b[:k]...)
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf[:n], nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// ReadManifest reads and decodes manifest.json, strictly.
func ReadManifest(fsys fs.FS) (*Manifest, []byte, error) {
	b, err := fs.ReadFile(fsys, ManifestFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotBundle, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("%w: manifest.json: %v", ErrNotBundle, err)
	}
	if m.Format != Format {
		return nil, nil, fmt.Errorf("%w: format %q, want %q", ErrNotBundle, m.Format, Format)
	}
	return &m, b, nil
}
