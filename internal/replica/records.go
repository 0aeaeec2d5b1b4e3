package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// ErrMalformed is wrapped by every decoding error of a stored record.
var ErrMalformed = errors.New("replica: malformed record")

// Key sub-prefixes after chain.PrefixReplica + store id (doc.go).
const (
	subState   = 0x00
	subReceipt = 0x01
)

// recordVersion is the first byte of every record this package stores.
const recordVersion = 1

// maxRecord caps a stored record: a receipt is a few hundred bytes.
const maxRecord = 16 << 10

// storeID is the first 8 bytes of SHA-256 of a store's name.
func storeID(name string) [8]byte {
	h := sha256.Sum256([]byte(name))
	return [8]byte(h[:8])
}

func stateKey(id [8]byte) []byte {
	k := append([]byte{chain.PrefixReplica}, id[:]...)
	return append(k, subState)
}

func receiptKey(id [8]byte, n uint64) []byte {
	k := append([]byte{chain.PrefixReplica}, id[:]...)
	k = append(k, subReceipt)
	return binary.BigEndian.AppendUint64(k, n)
}

// receiptBounds returns the key range of a store's receipts.
func receiptBounds(id [8]byte) (lo, hi []byte) {
	k := append([]byte{chain.PrefixReplica}, id[:]...)
	return append(bytes.Clone(k), subReceipt), append(k, subReceipt+1)
}

// state is what a store has been sent, stored under 'p' + id + 0x00 as
// version byte 1 ‖ this JSON. Uploaded ≥ Delivered: the tiles and bundles
// of the tree of size Uploaded are all in the store; the checkpoint object
// of size Delivered is too.
type state struct {
	// Store, Endpoint, Bucket and Prefix say where; a store whose
	// configuration moved it elsewhere starts over from 0.
	Store    string `json:"Store"`
	Endpoint string `json:"Endpoint"`
	Bucket   string `json:"Bucket"`
	Prefix   string `json:"Prefix"`
	// Uploaded is the tree size whose tiles and bundles are all written.
	Uploaded uint64 `json:"Uploaded"`
	// Delivered is the tree size of the checkpoint object written last,
	// Root its root (hex), NoteSHA256 the SHA-256 (hex) of the note.
	Delivered  uint64 `json:"Delivered"`
	Root       string `json:"Root"`
	NoteSHA256 string `json:"NoteSHA256"`
	// NextReceipt is the counter of the next receipt key.
	NextReceipt uint64 `json:"NextReceipt"`
}

func (s *state) root() (tlog.Hash, error) {
	var h tlog.Hash
	if s.Root == "" && s.Delivered == 0 {
		return h, nil
	}
	b, err := hex.DecodeString(s.Root)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%w: state root %q", ErrMalformed, s.Root)
	}
	return tlog.Hash(b), nil
}

func encodeState(s *state) ([]byte, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("replica: state: %w", err)
	}
	return append([]byte{recordVersion}, js...), nil
}

// decodeState decodes a stored state strictly: version, known fields only,
// the canonical form (exactly what encodeState writes), Uploaded ≥ Delivered, a root and note hash
// of the right form when something was delivered.
func decodeState(b []byte) (*state, error) {
	var s state
	if err := decodeRecord(b, &s); err != nil {
		return nil, fmt.Errorf("replica: state: %w", err)
	}
	if s.Store == "" || s.Uploaded < s.Delivered {
		return nil, fmt.Errorf("replica: state: %w: store %q, uploaded %d < delivered %d", ErrMalformed, s.Store, s.Uploaded, s.Delivered)
	}
	if s.Delivered > 0 {
		if _, err := s.root(); err != nil {
			return nil, fmt.Errorf("replica: state: %w", err)
		}
		if b, err := hex.DecodeString(s.NoteSHA256); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("replica: state: %w: note hash %q", ErrMalformed, s.NoteSHA256)
		}
	} else if s.Root != "" || s.NoteSHA256 != "" {
		return nil, fmt.Errorf("replica: state: %w: a root without a delivered size", ErrMalformed)
	}
	if again, err := encodeState(&s); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("replica: state: %w: not in canonical form", ErrMalformed)
	}
	return &s, nil
}

// Receipt is the store's acknowledgement of one object, kept in Pebble
// under 'p' + store id + 0x01 + counter(8) as version byte 1 ‖ this JSON.
type Receipt struct {
	Store    string `json:"Store"`
	Endpoint string `json:"Endpoint"`
	Bucket   string `json:"Bucket"`
	Key      string `json:"Key"`
	Size     int64  `json:"Size"`
	// SHA256 is the SHA-256 (hex) of the bytes we wrote.
	SHA256 string `json:"SHA256"`
	// ETag and ChecksumSHA256 are as the store answered: ChecksumSHA256 is
	// the x-amz-checksum-sha256 it echoed (base64; checked equal to ours),
	// empty if it echoed none.
	ETag           string `json:"ETag"`
	ChecksumSHA256 string `json:"ChecksumSHA256,omitempty"`
	// RequestID is the store's x-amz-request-id; Date its Date header.
	RequestID string `json:"RequestID,omitempty"`
	Date      string `json:"Date,omitempty"`
	// TreeSize is the tree size of the round the object belongs to.
	TreeSize uint64 `json:"TreeSize"`
	// Existing is set when the object was already there (HTTP 412 to the
	// conditional create) with the same bytes, read back: a step repeated
	// after a crash or a lost answer. ETag, RequestID and Date are then
	// those of the read.
	Existing bool `json:"Existing,omitempty"`
}

func encodeReceipt(r *Receipt) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("replica: receipt: %w", err)
	}
	return append([]byte{recordVersion}, js...), nil
}

// DecodeReceipt decodes a stored receipt strictly: version byte, known
// fields only, the SHA-256 in hex, and the canonical form — exactly the
// bytes encodeReceipt writes (no duplicate keys, no white space).
func DecodeReceipt(b []byte) (*Receipt, error) {
	var r Receipt
	if err := decodeRecord(b, &r); err != nil {
		return nil, fmt.Errorf("replica: receipt: %w", err)
	}
	if h, err := hex.DecodeString(r.SHA256); err != nil || len(h) != sha256.Size || r.Store == "" || r.Key == "" || r.Size < 0 {
		return nil, fmt.Errorf("replica: receipt: %w: incomplete", ErrMalformed)
	}
	if again, err := encodeReceipt(&r); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("replica: receipt: %w: not in canonical form", ErrMalformed)
	}
	return &r, nil
}

func decodeRecord(b []byte, v any) error {
	if len(b) < 2 || len(b) > maxRecord {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != recordVersion {
		return fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// Only white space may follow the value.
	if len(bytes.TrimSpace(b[1+dec.InputOffset():])) != 0 {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return nil
}
