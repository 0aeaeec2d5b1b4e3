// Package inspect shows a tap's stored events to people and to scripts:
// one event in full (text, or JSON as an evidence bundle carries it) and
// many as a table or JSON Lines, each with its standing — EventHash
// recomputed, chain link and signature checked, sealed by a checkpoint,
// anchored by an RFC 3161 time-stamp — as a read-only view of the log sees
// it. It backs `fixtap show` and `fixtap query`; the lookups are
// internal/index's, and Find resolves an EventID or a log seq.
//
// What an event holds came from a counterparty: text output escapes
// control characters (a FIX Text field may carry terminal escapes), and
// shows the raw message with its SOH separators as '|'.
package inspect

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/seal"
)

// Inspector reads events of a log with their standing. It reads the newest
// checkpoint and anchor once, in New: a read-only log (a snapshot of a
// running tap) does not move. Not safe for concurrent use.
type Inspector struct {
	log      *chain.Log
	seal     *seal.Sealer
	keys     map[chain.KeyID]ed25519.PublicKey
	treeSize uint64 // the newest checkpoint's tree size; 0 if none
	anchored uint64 // the newest anchor's tree size; 0 if none

	// cps holds the checkpoints read so far, by tree size.
	cps map[uint64]*seal.Checkpoint
	// The last event read, for the next one's chain link.
	last    chain.Hash
	lastSeq uint64
	hasLast bool
}

// New makes an Inspector of l. s is l's sealed tree (seal.OpenReader), nil
// if there is none; keys are the event-signing public keys a signature is
// checked against (the configured key; older ones after a rotation).
func New(l *chain.Log, s *seal.Sealer, keys ...ed25519.PublicKey) (*Inspector, error) {
	in := &Inspector{log: l, seal: s, keys: map[chain.KeyID]ed25519.PublicKey{}, cps: map[uint64]*seal.Checkpoint{}}
	for _, k := range keys {
		in.keys[chain.KeyIDOf(k)] = k
	}
	if s == nil {
		return in, nil
	}
	c, err := s.Latest()
	switch {
	case errors.Is(err, seal.ErrNoCheckpoint):
		return in, nil
	case err != nil:
		return nil, fmt.Errorf("inspect: %w", err)
	}
	in.treeSize = c.Size
	anchors, err := s.Anchors()
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	for _, a := range anchors {
		in.anchored = max(in.anchored, a.TreeSize)
	}
	return in, nil
}

// TreeSize returns the newest checkpoint's tree size (0 before the first):
// the events below it are sealed.
func (in *Inspector) TreeSize() uint64 { return in.treeSize }

// AnchoredSize returns the tree size of the newest anchored checkpoint (0
// before the first anchor): the events below it are anchored.
func (in *Inspector) AnchoredSize() uint64 { return in.anchored }

// Size returns the number of events in the log.
func (in *Inspector) Size() uint64 { return in.log.Durable() }

// SigState is what the check of an event's signature found.
type SigState string

// Signature states.
const (
	SigValid      SigState = "valid"       // verifies with the key of its KeyID
	SigInvalid    SigState = "INVALID"     // does not verify with the key of its KeyID
	SigUnsigned   SigState = "unsigned"    // no signature record yet (signing runs beside the chain)
	SigUnknownKey SigState = "unknown-key" // signed by a key not given to New
)

// Status is an event's standing in the log.
type Status struct {
	// HashOK: EventHash recomputed from the stored Header, Payload and
	// PrevHash is the stored one.
	HashOK bool `json:"HashOK"`
	// LinkOK: PrevHash is the previous event's EventHash (zero for seq 0).
	LinkOK    bool     `json:"LinkOK"`
	Signature SigState `json:"Signature"`
	KeyID     string   `json:"KeyID,omitempty"`
	// Sealed: a signed checkpoint covers the event; Checkpoint is the tree
	// size of the first that does (the one its Merkle position is given
	// in). ProofOK: the inclusion proof of the event's EventHash, from the
	// stored tree, checks against that checkpoint's signed root.
	Sealed     bool   `json:"Sealed"`
	Checkpoint uint64 `json:"Checkpoint,omitempty"`
	ProofOK    bool   `json:"ProofOK"`
	// TreeSize is the newest checkpoint's tree size (0 if none).
	TreeSize uint64 `json:"TreeSize"`
	// Anchored: an RFC 3161-anchored checkpoint covers the event;
	// AnchoredSize is the newest anchored checkpoint's tree size (0 if none).
	Anchored     bool   `json:"Anchored"`
	AnchoredSize uint64 `json:"AnchoredSize"`
}

// Event is one stored event with its standing.
type Event struct {
	Record *chain.Record
	// Event is Record decoded; its Security is as stored (no Merkle
	// position: that is in JSON's, from the first covering checkpoint).
	Event  *chain.Event
	Status Status
	Size   uint64 // the log's size when read

	covering *seal.Checkpoint
}

// Event reads the event at seq and works out its standing.
func (in *Inspector) Event(seq uint64) (*Event, error) {
	size := in.log.Durable()
	if seq >= size {
		return nil, &NotFoundError{What: "at seq " + strconv.FormatUint(seq, 10), Size: size}
	}
	r, err := in.log.Get(seq)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	ev, err := r.Event()
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	e := &Event{Record: r, Event: ev, Size: size}
	st := &e.Status
	st.HashOK = chain.EventHash(r.Header, r.Payload, r.Prev, seq == 0) == r.Hash
	switch {
	case seq == 0:
		st.LinkOK = r.Prev == chain.Hash{}
	case in.hasLast && in.lastSeq == seq-1:
		st.LinkOK = r.Prev == in.last
	default:
		p, err := in.log.Get(seq - 1)
		if err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		st.LinkOK = r.Prev == p.Hash
	}
	in.last, in.lastSeq, in.hasLast = r.Hash, seq, true
	switch pub, ok := in.keys[r.KeyID]; {
	case !r.Signed:
		st.Signature = SigUnsigned
	case !ok:
		st.Signature, st.KeyID = SigUnknownKey, r.KeyID.String()
	case chain.VerifySignature(pub, r.Hash, r.Signature[:]):
		st.Signature, st.KeyID = SigValid, r.KeyID.String()
	default:
		st.Signature, st.KeyID = SigInvalid, r.KeyID.String()
	}
	st.TreeSize, st.AnchoredSize = in.treeSize, in.anchored
	st.Anchored = seq < in.anchored
	if seq < in.treeSize {
		if e.covering, err = in.firstCovering(seq); err != nil {
			return nil, err
		}
		c := e.covering
		st.Sealed, st.Checkpoint = true, c.Size
		p, err := in.seal.InclusionProof(seq, c.Size)
		if err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		st.ProofOK = tlog.CheckRecord(p, int64(c.Size), c.Root, int64(seq), seal.LeafHash(r.Hash)) == nil
	}
	return e, nil
}

// firstCovering returns the first checkpoint whose tree holds seq (size >
// seq): one seek for its tree size among the checkpoint keys ('c' + tree
// size, chain/keys.go), then the checkpoint read and verified by the
// sealer, once per size.
func (in *Inspector) firstCovering(seq uint64) (*seal.Checkpoint, error) {
	it, err := in.log.DB().NewIter(&pebble.IterOptions{
		LowerBound: binary.BigEndian.AppendUint64([]byte{chain.PrefixCheckpt}, seq+1),
		UpperBound: binary.BigEndian.AppendUint64([]byte{chain.PrefixCheckpt}, in.treeSize+1),
	})
	if err != nil {
		return nil, fmt.Errorf("inspect: iterate checkpoints: %w", err)
	}
	size := uint64(0)
	if it.First() && len(it.Key()) == 9 {
		size = binary.BigEndian.Uint64(it.Key()[1:])
	}
	err = errors.Join(it.Error(), it.Close())
	switch {
	case err != nil:
		return nil, fmt.Errorf("inspect: iterate checkpoints: %w", err)
	case size == 0:
		// Latest said checkpoint treeSize is stored.
		return nil, fmt.Errorf("inspect: %w: none stored covering seq %d", seal.ErrNoCheckpoint, seq)
	}
	if c := in.cps[size]; c != nil {
		return c, nil
	}
	c, err := in.seal.Checkpoint(size)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	in.cps[size] = c
	return c, nil
}

// Security returns the event's Security block as an evidence bundle
// carries it: with MerkleIndex and the MerkleRoot of the first checkpoint
// covering it, when one does.
func (e *Event) Security() chain.Security {
	s := e.Record.Security()
	if e.covering != nil {
		i := int64(e.Record.Seq)
		s.MerkleIndex = &i
		s.MerkleRoot = hex.EncodeToString(e.covering.Root[:])
	}
	return s
}

// AppendJSON appends the event as one JSON object, without a newline:
//
//	{"Seq":…,"Event":{"Header":…,"Payload":…,"Security":…},"Raw":"<base64>","Status":{…}}
//
// Event is byte for byte the event's line in an evidence bundle's
// events.jsonl (docs/bundle.md) — Header and Payload exactly as hashed,
// Security canonical — when the event is sealed; before, its Security has
// no Merkle position. Raw is the wire bytes, absent when there are none.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	r := e.Record
	dst = append(dst, `{"Seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"Event":{"Header":`...)
	dst = append(dst, r.Header...)
	dst = append(dst, `,"Payload":`...)
	dst = append(dst, r.Payload...)
	dst = append(dst, `,"Security":`...)
	sec := e.Security()
	dst, err := chain.AppendCanonical(dst, &sec)
	if err != nil {
		return dst, fmt.Errorf("inspect: seq %d: %w", r.Seq, err)
	}
	dst = append(dst, '}')
	if len(r.Raw) > 0 {
		dst = append(dst, `,"Raw":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Raw)
		dst = append(dst, '"')
	}
	st, err := json.Marshal(&e.Status)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"Status":`...)
	dst = append(dst, st...)
	return append(dst, '}'), nil
}

// ErrNotFound is wrapped by every *NotFoundError.
var ErrNotFound = errors.New("inspect: no such event")

// NotFoundError reports an event the log does not hold.
type NotFoundError struct {
	What string // "at seq 5000", "with EventID …"
	Size uint64 // the log's size
}

func (e *NotFoundError) Error() string {
	if e.Size == 0 {
		return fmt.Sprintf("inspect: no event %s: the log is empty", e.What)
	}
	return fmt.Sprintf("inspect: no event %s in the log (%d events, seq 0..%d)", e.What, e.Size, e.Size-1)
}

// Unwrap lets errors.Is match ErrNotFound.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ErrInvalidQuery is wrapped by every *QueryError.
var ErrInvalidQuery = errors.New("inspect: invalid query")

// QueryError refuses an argument that names no event.
type QueryError struct {
	Arg    string
	Reason string
}

func (e *QueryError) Error() string { return fmt.Sprintf("inspect: %q: %s", e.Arg, e.Reason) }

// Unwrap lets errors.Is match ErrInvalidQuery.
func (e *QueryError) Unwrap() error { return ErrInvalidQuery }
