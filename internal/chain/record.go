package chain

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Stored record formats (version 1).
//
// Event record, key 'e'+seq:
//
//	byte    version (1)
//	[32]    PrevHash (zero for the genesis event)
//	[32]    EventHash
//	uint32  len, JCS(Header)
//	uint32  len, JCS(Payload)
//	uint32  len, raw FIX bytes (may be empty)
//
// (integers big-endian). PrevHash and EventHash sit at fixed offsets so the
// committer can link a record that an appender built in parallel by
// patching 64 bytes; fixed-width lengths let the appender canonicalize
// straight into the record and patch the length afterwards.
//
// Signature record, key 's'+seq:
//
//	byte    version (1)
//	[8]     KeyID
//	[64]    Ed25519 signature over the raw 32 bytes of EventHash
const (
	recordVersion    = 1
	recordPrevOff    = 1
	recordHashOff    = recordPrevOff + len(Hash{})
	recordFixedLen   = recordHashOff + len(Hash{})
	sigRecordVersion = 1
	sigRecordLen     = 1 + 8 + 64
	// maxField caps each variable-length field so a corrupt length cannot
	// make the decoder allocate without bound.
	maxField = 16 << 20
)

// Record is one stored event as the log holds it.
type Record struct {
	Seq     uint64
	Prev    Hash
	Hash    Hash
	Header  []byte // JCS(Header), exactly as hashed
	Payload []byte // JCS(Payload), exactly as hashed
	Raw     []byte // the wire bytes the event was made from, if any

	// Signed is false until the signature record exists.
	Signed    bool
	KeyID     KeyID
	Signature [64]byte
}

// errRecord is wrapped by every decoding error.
var errRecord = errors.New("malformed record")

// DecodeRecord parses an event record. It copies nothing: the returned
// slices alias b.
func DecodeRecord(seq uint64, b []byte) (*Record, error) {
	fail := func(format string, args ...any) (*Record, error) {
		return nil, &CorruptRecordError{Seq: seq, Err: fmt.Errorf("%w: "+format, append([]any{errRecord}, args...)...)}
	}
	if len(b) < recordFixedLen {
		return fail("%d bytes, shorter than the fixed part", len(b))
	}
	if b[0] != recordVersion {
		return fail("version %d, want %d", b[0], recordVersion)
	}
	r := &Record{Seq: seq}
	copy(r.Prev[:], b[recordPrevOff:recordHashOff])
	copy(r.Hash[:], b[recordHashOff:recordFixedLen])
	rest := b[recordFixedLen:]
	var fields [3][]byte
	for i, name := range []string{"header", "payload", "raw"} {
		if len(rest) < 4 {
			return fail("truncated before the %s length", name)
		}
		n := binary.BigEndian.Uint32(rest)
		if n > maxField || uint64(n) > uint64(len(rest)-4) {
			return fail("bad %s length %d", name, n)
		}
		fields[i] = rest[4 : 4+n : 4+n]
		rest = rest[4+n:]
	}
	if len(rest) != 0 {
		return fail("%d trailing bytes", len(rest))
	}
	r.Header, r.Payload, r.Raw = fields[0], fields[1], fields[2]
	if len(r.Header) == 0 || len(r.Payload) == 0 {
		return fail("empty header or payload")
	}
	return r, nil
}

// appendRecord encodes an event record with zero hashes, to be patched by
// the committer with linkRecord.
func appendRecord(dst []byte, header, payload, raw []byte) []byte {
	dst = append(dst, recordVersion)
	dst = append(dst, make([]byte, 2*len(Hash{}))...)
	for _, f := range [][]byte{header, payload, raw} {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// buildRecord canonicalizes e straight into a record (hashes zero) and
// returns it with the bounds of the Header and Payload bytes in it.
func buildRecord(dst []byte, e *Entry) (rec []byte, hdr, pay [2]int, err error) {
	rec = append(dst[:0], recordVersion)
	rec = append(rec, make([]byte, 2*len(Hash{}))...)
	field := func(v any) ([2]int, error) {
		at := len(rec)
		rec = append(rec, 0, 0, 0, 0)
		var err error
		if rec, err = AppendCanonical(rec, v); err != nil {
			return [2]int{}, err
		}
		if len(rec)-at-4 > maxField {
			return [2]int{}, &InvalidEventError{Field: fmt.Sprintf("%T", v), Reason: "larger than 16 MiB"}
		}
		binary.BigEndian.PutUint32(rec[at:], uint32(len(rec)-at-4))
		return [2]int{at + 4, len(rec)}, nil
	}
	if hdr, err = field(&e.Header); err != nil {
		return dst, hdr, pay, err
	}
	if pay, err = field(&e.Payload); err != nil {
		return dst, hdr, pay, err
	}
	if len(e.Raw) > maxField {
		return dst, hdr, pay, &InvalidEventError{Field: "Raw", Reason: "larger than 16 MiB"}
	}
	rec = binary.BigEndian.AppendUint32(rec, uint32(len(e.Raw)))
	rec = append(rec, e.Raw...)
	return rec, hdr, pay, nil
}

func linkRecord(rec []byte, prev, h Hash) {
	copy(rec[recordPrevOff:recordHashOff], prev[:])
	copy(rec[recordHashOff:recordFixedLen], h[:])
}

func decodeSigRecord(seq uint64, b []byte, r *Record) error {
	if len(b) != sigRecordLen || b[0] != sigRecordVersion {
		return &CorruptRecordError{Seq: seq, Err: fmt.Errorf("%w: signature record of %d bytes, version %d", errRecord, len(b), b[0])}
	}
	copy(r.KeyID[:], b[1:9])
	copy(r.Signature[:], b[9:])
	r.Signed = true
	return nil
}

func appendSigRecord(dst []byte, id KeyID, sig []byte) []byte {
	dst = append(dst, sigRecordVersion)
	dst = append(dst, id[:]...)
	return append(dst, sig...)
}

// Check recomputes the record's EventHash and compares it with the stored
// one; a record is genesis when its seq is 0.
func (r *Record) Check() error {
	if r.Seq == 0 && r.Prev != (Hash{}) {
		return &BrokenLinkError{Seq: 0, What: "PrevHash", Stored: r.Prev, Want: Hash{}}
	}
	if got := EventHash(r.Header, r.Payload, r.Prev, r.Seq == 0); got != r.Hash {
		return &BrokenLinkError{Seq: r.Seq, What: "EventHash", Stored: r.Hash, Want: got}
	}
	return nil
}

// Security returns the record's Security block as the profile spells it.
func (r *Record) Security() Security {
	s := Security{Version: VCPVersion, EventHash: r.Hash.String(), PrevHash: r.Prev.String(), HashAlgo: HashAlgoSHA256}
	if r.Signed {
		s.Signature = base64.StdEncoding.EncodeToString(r.Signature[:])
		s.SignAlgo = SignAlgoEd25519
		s.KeyID = hex.EncodeToString(r.KeyID[:])
	}
	return s
}

// Event decodes the record into the typed event.
func (r *Record) Event() (*Event, error) {
	e := &Event{Security: r.Security()}
	if err := json.Unmarshal(r.Header, &e.Header); err != nil {
		return nil, &CorruptRecordError{Seq: r.Seq, Err: fmt.Errorf("header: %w", err)}
	}
	if err := json.Unmarshal(r.Payload, &e.Payload); err != nil {
		return nil, &CorruptRecordError{Seq: r.Seq, Err: fmt.Errorf("payload: %w", err)}
	}
	return e, nil
}

// AppendJSON appends the event as one canonical JSON object
// {"Header":…,"Payload":…,"Security":…}: Header and Payload are the stored
// bytes, exactly as hashed. This is the JSON Lines form of exports.
func (r *Record) AppendJSON(dst []byte) ([]byte, error) {
	sec, err := AppendCanonical(nil, r.Security())
	if err != nil {
		return dst, err
	}
	dst = append(dst, `{"Header":`...)
	dst = append(dst, r.Header...)
	dst = append(dst, `,"Payload":`...)
	dst = append(dst, r.Payload...)
	dst = append(dst, `,"Security":`...)
	dst = append(dst, sec...)
	return append(dst, '}'), nil
}
