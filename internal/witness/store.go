package witness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/seal"
)

// Stored cosigned checkpoint, key 'w' + tree size(8) (chain.PrefixCosigned),
// in the chain's Pebble DB:
//
//	byte    version (1)
//	…       the cosigned note: fixtap's checkpoint note, byte for byte,
//	        with the witnesses' cosignature lines appended after fixtap's
//	        own signature line
//
// A record is written once, when the policy is first met for that size,
// and never rewritten.
const cosignedRecordVersion = 1

// maxCosigned caps a stored record: a checkpoint (< 4 KiB) and up to a
// few dozen cosignature lines.
const maxCosigned = 32 << 10

var (
	// ErrNoCosigned is wrapped when no cosigned checkpoint is stored (at a
	// size).
	ErrNoCosigned = errors.New("witness: no cosigned checkpoint")
	// ErrMalformed is wrapped by every decoding error of a stored record.
	ErrMalformed = errors.New("witness: malformed")
)

// Cosigned is a checkpoint with the cosignatures that met the policy.
type Cosigned struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
	// Note is the cosigned note, exactly as stored and published: what
	// replicas serve as their checkpoint and what an RFC 3161 anchor
	// time-stamps.
	Note []byte
	// Cosigs are the verified cosignatures of the policy's witnesses in
	// Note (empty when read without a policy).
	Cosigs []cosign.Cosig
}

// Checkpoint returns c as a seal.Checkpoint whose Note is the cosigned
// note (for seal.AnchorConfig.Latest).
func (c *Cosigned) Checkpoint() *seal.Checkpoint {
	return &seal.Checkpoint{Origin: c.Origin, Size: c.Size, Root: c.Root, Note: c.Note}
}

func cosignedKey(size uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{chain.PrefixCosigned}, size)
}

// Reader reads stored cosigned checkpoints. It writes nothing, so it works
// on a read-only chain.Log's DB (export, verify tooling). Safe for
// concurrent use.
type Reader struct {
	db     *pebble.DB
	policy *cosign.Policy
	logV   note.Verifier
}

// OpenReader returns a Reader of db. Every record read is verified: its
// version, the log's signature (logVerifier), the checkpoint text and that
// its size is the one in its key; with a policy, every cosignature by one of
// its witnesses is verified and reported in Cosigs. A record that no longer
// meets the policy (the policy changed since it was stored) is still
// returned: judging it is fixtap verify's work (cosign.Policy.Check). A nil
// policy reads the records without their cosignatures.
func OpenReader(db *pebble.DB, policy *cosign.Policy, logVerifier note.Verifier) (*Reader, error) {
	if db == nil || logVerifier == nil {
		return nil, errors.New("witness: reader: nil DB or log verifier")
	}
	return &Reader{db: db, policy: policy, logV: logVerifier}, nil
}

// Get returns the cosigned checkpoint of tree size size.
func (r *Reader) Get(size uint64) (*Cosigned, error) {
	v, closer, err := r.db.Get(cosignedKey(size))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w at tree size %d", ErrNoCosigned, size)
	}
	if err != nil {
		return nil, fmt.Errorf("witness: read cosigned %d: %w", size, err)
	}
	defer closer.Close()
	return r.decode(size, v)
}

// Latest returns the newest cosigned checkpoint; ErrNoCosigned before the
// first.
func (r *Reader) Latest() (*Cosigned, error) {
	it, err := r.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{chain.PrefixCosigned},
		UpperBound: []byte{chain.PrefixCosigned + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("witness: iterate cosigned: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("witness: iterate cosigned: %w", err)
		}
		return nil, ErrNoCosigned
	}
	size, err := sizeOfKey(it.Key())
	if err != nil {
		return nil, err
	}
	return r.decode(size, it.Value())
}

// All calls fn with every stored cosigned checkpoint of tree size in
// [from, to), in increasing size, and stops at fn's first error.
func (r *Reader) All(from, to uint64, fn func(*Cosigned) error) error {
	if from >= to {
		return nil
	}
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: cosignedKey(from), UpperBound: cosignedKey(to)})
	if err != nil {
		return fmt.Errorf("witness: iterate cosigned: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		size, err := sizeOfKey(it.Key())
		if err != nil {
			return err
		}
		c, err := r.decode(size, it.Value())
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("witness: iterate cosigned: %w", err)
	}
	return nil
}

func sizeOfKey(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != chain.PrefixCosigned {
		return 0, fmt.Errorf("witness: cosigned key %x: %w", k, ErrMalformed)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// decode decodes and verifies the record stored under 'w' + size.
func (r *Reader) decode(size uint64, b []byte) (*Cosigned, error) {
	if len(b) < 1 || len(b) > maxCosigned+1 {
		return nil, fmt.Errorf("witness: cosigned record %d: %w: %d bytes", size, ErrMalformed, len(b))
	}
	if b[0] != cosignedRecordVersion {
		return nil, fmt.Errorf("witness: cosigned record %d: %w: version %d, want %d", size, ErrMalformed, b[0], cosignedRecordVersion)
	}
	msg := bytes.Clone(b[1:])
	c, err := openCosigned(msg, r.policy, r.logV)
	if err != nil {
		return nil, fmt.Errorf("witness: cosigned record %d: %w", size, err)
	}
	if c.Size != size {
		return nil, fmt.Errorf("witness: cosigned record %d: %w: note says size %d", size, ErrMalformed, c.Size)
	}
	return c, nil
}

// openCosigned verifies a cosigned note: the log's signature, the
// checkpoint text (seal.ParseCheckpointText) and, with a policy, the
// cosignatures of its witnesses; whether they meet the quorum is not
// judged here.
func openCosigned(msg []byte, policy *cosign.Policy, logV note.Verifier) (*Cosigned, error) {
	var text string
	var cosigs []cosign.Cosig
	if policy != nil {
		res, err := policy.Check(msg, logV)
		if err != nil && !errors.Is(err, cosign.ErrPolicyUnsatisfied) {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		text, cosigs = res.Text, res.Cosigs
	} else {
		n, err := note.Open(msg, note.VerifierList(logV))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		text = n.Text
	}
	origin, size, root, err := seal.ParseCheckpointText([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &Cosigned{Origin: origin, Size: size, Root: root, Note: msg, Cosigs: cosigs}, nil
}
