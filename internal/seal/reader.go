package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/chain"
)

// ErrReadOnly is wrapped by what a reader (OpenReader) cannot do: wait for
// a checkpoint that is not stored, or anchor.
var ErrReadOnly = errors.New("seal: read-only")

// ParseVerifierKey parses a checkpoint verifier key, the note vkey
// "<name>+<hash hex>+<base64 alg‖key>" that Key.VerifierKey holds and that
// `fixtap run` logs. Only Ed25519 keys are accepted (note.NewVerifier
// knows no other algorithm). A tool holding the tap's configuration can
// instead load the key file with LoadKeyFile and use Key.Verifier.
func ParseVerifierKey(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("seal: verifier key: %w", err)
	}
	return v, nil
}

// OpenReader opens the sealed tree of l for reading: tools (export, show,
// proof) on a read-only log (chain.Config.ReadOnly). It runs the recovery
// checks of New — the stored tree within the log, its newest leaf the
// leaf of the log's event, the newest checkpoint signed by verifier, of
// this origin, and reproduced by the stored tree — and starts no
// goroutine and writes nothing. Size, TreeHash, Latest, Checkpoint,
// Checkpoints, Anchor, Anchors, InclusionProof and ConsistencyProof work;
// WaitCheckpoint does not wait, NewAnchorer refuses it, and Close does
// nothing. The tree it sees is the one stored when l was opened.
func OpenReader(l *chain.Log, origin string, verifier note.Verifier) (*Sealer, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("seal: reader: %w", err)
	}
	if verifier == nil {
		return nil, errors.New("seal: reader: no verifier")
	}
	s, err := recoverSealer(l, Config{Origin: origin}, verifier)
	if err != nil {
		return nil, err
	}
	s.readOnly = true
	return s, nil
}

// Checkpoints returns the stored checkpoints whose tree size lies in
// [from, to), smallest first, each verified like Checkpoint's.
func (s *Sealer) Checkpoints(from, to uint64) ([]*Checkpoint, error) {
	if from >= to {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: checkpointKey(from), UpperBound: checkpointKey(to)})
	if err != nil {
		return nil, fmt.Errorf("seal: iterate checkpoints: %w", err)
	}
	defer it.Close()
	var out []*Checkpoint
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 9 {
			return nil, fmt.Errorf("seal: checkpoint key %x: %w", k, ErrMalformed)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("seal: read checkpoint %d: %w", beUint64(k[1:]), err)
		}
		c, err := decodeCheckpointRecord(beUint64(k[1:]), v, s.known)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("seal: iterate checkpoints: %w", err)
	}
	return out, nil
}

// Anchors returns every stored anchor, in tree-size order (and, for one
// size, in the order of the TSA ids in their keys). Each is decoded
// strictly and checked against its key: the tree size and the TSA URL's id,
// and the checkpoint note it carries verified with the sealer's key and
// stating the record's TreeSize and MerkleRoot. The time-stamp token itself
// is not verified here (that needs the TSA's roots: internal/tsp).
func (s *Sealer) Anchors() ([]*AnchorRecord, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{chain.PrefixAnchor},
		UpperBound: []byte{chain.PrefixAnchor + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("seal: iterate anchors: %w", err)
	}
	defer it.Close()
	var out []*AnchorRecord
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 17 {
			return nil, fmt.Errorf("seal: anchor key %x: %w", k, ErrMalformed)
		}
		size := beUint64(k[1:9])
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("seal: read anchor %d: %w", size, err)
		}
		r, err := decodeAnchorRecord(v)
		if err != nil {
			return nil, fmt.Errorf("seal: anchor %d: %w", size, err)
		}
		if err := s.checkAnchor(k, size, r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("seal: iterate anchors: %w", err)
	}
	return out, nil
}

// checkAnchor checks a stored anchor record against its key and its
// checkpoint note.
func (s *Sealer) checkAnchor(key []byte, size uint64, r *AnchorRecord) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("seal: anchor %d by %s: %w: "+format, append([]any{size, r.AnchorTarget.Identifier, ErrMalformed}, args...)...)
	}
	if r.TreeSize != size {
		return fail("record says tree size %d", r.TreeSize)
	}
	if id := sha256.Sum256([]byte(r.AnchorTarget.Identifier)); !bytes.Equal(id[:8], key[9:]) {
		return fail("key's TSA id %x is not that of the record's URL", key[9:])
	}
	c, err := OpenCheckpoint(r.Checkpoint, s.known)
	if err != nil {
		return fmt.Errorf("seal: anchor %d by %s: %w", size, r.AnchorTarget.Identifier, err)
	}
	if c.Size != size || hex.EncodeToString(c.Root[:]) != r.MerkleRoot {
		return fail("its checkpoint note states size %d root %x, the record %d %s", c.Size, c.Root[:], size, r.MerkleRoot)
	}
	return nil
}
