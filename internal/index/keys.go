package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fixtap/fixtap/internal/chain"
)

// The index keyspace: every key starts with chain.PrefixIndex ('x') and one
// sub-prefix byte. Integers are big-endian, so byte order is numeric order;
// strings are preceded by their length as a uvarint (minimal encoding), so
// that no value is a prefix of another and a prefix scan for one value (or
// one value in one session) is exact. Values are never empty.
//
//	'x' 'v'                                   format: formatName
//	'x' 'w'                                   watermark(8): every seq below it is indexed
//	'x' kind len(value) value len(session) session seq(8)
//	                                          kind 'o' OrderID, 'c' ClOrdID and OrigClOrdID,
//	                                          'e' ExecID, 'r' TraceID (VCP-TRADE and its Sides;
//	                                          Header.TraceID); session as below, may be empty
//	'x' 's' len(session) session seq(8)       session membership: Payload.FIX.SessionID,
//	                                          else Payload.TapSession.SessionID
//	'x' 't' time(8) seq(8)                    capture time: Header.TimestampInt (ns) with the
//	                                          sign bit flipped, so negative times sort first
//
// Every key's value is empty except the format's and the watermark's. The
// value comes before the session so that "this ClOrdID in any session" and
// "this ClOrdID in this session" are both one prefix scan.
const (
	subFormat    = 'v'
	subWatermark = 'w'
	subSession   = 's'
	subTime      = 't'
)

// formatName is the value of the format key. An index of another format (or
// none) is ignored by lookups and rebuilt from seq 0 by the Indexer.
const formatName = "fixtap-index/1"

// Kind is a kind of identifier the index holds.
type Kind byte

// The identifier kinds, each its key's sub-prefix.
const (
	OrderID Kind = 'o' // VCP-TRADE OrderID (37), also of each side
	ClOrdID Kind = 'c' // VCP-TRADE ClOrdID (11) and OrigClOrdID (41), also of each side
	ExecID  Kind = 'e' // VCP-TRADE ExecID (17)
	TraceID Kind = 'r' // Header.TraceID
)

// Kinds lists every identifier kind.
var Kinds = []Kind{OrderID, ClOrdID, ExecID, TraceID}

func (k Kind) valid() bool {
	switch k {
	case OrderID, ClOrdID, ExecID, TraceID:
		return true
	}
	return false
}

func (k Kind) String() string {
	switch k {
	case OrderID:
		return "OrderID"
	case ClOrdID:
		return "ClOrdID"
	case ExecID:
		return "ExecID"
	case TraceID:
		return "TraceID"
	}
	return fmt.Sprintf("Kind(%#x)", byte(k))
}

var (
	keyFormat    = []byte{chain.PrefixIndex, subFormat}
	keyWatermark = []byte{chain.PrefixIndex, subWatermark}
)

// Key is one decoded index key.
type Key struct {
	// Sub is the sub-prefix: a Kind, 's' or 't'.
	Sub     byte
	Value   string // Kind keys only
	Session string // Kind and 's' keys
	TimeNs  int64  // 't' keys only
	Seq     uint64
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// appendValuePrefix appends 'x' kind len(value) value: the prefix of every
// key of value in any session.
func appendValuePrefix(dst []byte, k Kind, value string) []byte {
	return appendString(append(dst, chain.PrefixIndex, byte(k)), value)
}

// appendValueKey appends the key of value in session at seq.
func appendValueKey(dst []byte, k Kind, value, session string, seq uint64) []byte {
	dst = appendString(appendValuePrefix(dst, k, value), session)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// appendSessionPrefix appends 'x' 's' len(session) session.
func appendSessionPrefix(dst []byte, session string) []byte {
	return appendString(append(dst, chain.PrefixIndex, subSession), session)
}

func appendSessionKey(dst []byte, session string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendSessionPrefix(dst, session), seq)
}

// timeBits maps ns to a uint64 whose big-endian order is ns's order.
func timeBits(ns int64) uint64 { return uint64(ns) ^ 1<<63 }

func appendTimePrefix(dst []byte, ns int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, chain.PrefixIndex, subTime), timeBits(ns))
}

func appendTimeKey(dst []byte, ns int64, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendTimePrefix(dst, ns), seq)
}

// Append appends k's encoding.
func (k Key) Append(dst []byte) []byte {
	switch k.Sub {
	case subSession:
		return appendSessionKey(dst, k.Session, k.Seq)
	case subTime:
		return appendTimeKey(dst, k.TimeNs, k.Seq)
	}
	return appendValueKey(dst, Kind(k.Sub), k.Value, k.Session, k.Seq)
}

// errKey is wrapped by every KeyError.
var errKey = errors.New("index: malformed key")

// KeyError reports an index key that does not decode: the index is corrupt
// (it can be rebuilt; the log is not affected).
type KeyError struct {
	Key    []byte
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%v %x: %s", errKey, e.Key, e.Reason) }

// Unwrap lets errors.Is match any KeyError against ErrCorruptIndex.
func (e *KeyError) Unwrap() error { return ErrCorruptIndex }

// ParseKey decodes an identifier, session or time key. It accepts only the
// canonical encoding (what Append writes): a minimal uvarint length, a
// non-empty value, nothing trailing.
func ParseKey(b []byte) (Key, error) {
	fail := func(reason string) (Key, error) { return Key{}, &KeyError{Key: bytes.Clone(b), Reason: reason} }
	if len(b) < 2 || b[0] != chain.PrefixIndex {
		return fail("not an index key")
	}
	k := Key{Sub: b[1]}
	rest := b[2:]
	str := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || w != len(binary.AppendUvarint(nil, n)) {
			return "", false
		}
		if n > uint64(len(rest)-w) {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	switch {
	case k.Sub == subTime:
		if len(rest) != 16 {
			return fail("time key of wrong length")
		}
		k.TimeNs = int64(binary.BigEndian.Uint64(rest) ^ 1<<63)
		rest = rest[8:]
	case k.Sub == subSession:
		var ok bool
		if k.Session, ok = str(); !ok {
			return fail("bad session length")
		}
	case Kind(k.Sub).valid():
		var ok bool
		if k.Value, ok = str(); !ok {
			return fail("bad value length")
		}
		if k.Value == "" {
			return fail("empty value")
		}
		if k.Session, ok = str(); !ok {
			return fail("bad session length")
		}
	default:
		return fail(fmt.Sprintf("unknown sub-prefix %q", b[1]))
	}
	if len(rest) != 8 {
		return fail("seq of wrong length")
	}
	k.Seq = binary.BigEndian.Uint64(rest)
	return k, nil
}

// prefixEnd returns the smallest key greater than every key with prefix p
// (p is never all 0xff here: it starts with 'x').
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
