package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 digest: an EventHash, or a PrevHash.
type Hash [sha256.Size]byte

// String returns the lowercase hex form the profile uses everywhere.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// appendHex appends the 64 lowercase hex characters of h.
func (h Hash) appendHex(dst []byte) []byte { return hex.AppendEncode(dst, h[:]) }

// ParseHash parses 64 lowercase hex characters.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("chain: hash %q: want %d hex characters", s, 2*len(h))
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, fmt.Errorf("chain: hash %q: not lowercase hex", s)
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}

// zeroHashHex is what Security.PrevHash shows for the genesis event.
var zeroHashHex = Hash{}.String()

// EventHash computes the profile's event hash (docs/vcp-profile.md §2):
//
//	EventHash = SHA-256( JCS(Header) ‖ JCS(Payload) ‖ PrevHashHex )
//
// where PrevHashHex is the previous event's EventHash as 64 lowercase hex
// characters, and nothing at all is appended for the genesis event
// (genesis = true): no zero string, no version byte.
func EventHash(header, payload []byte, prev Hash, genesis bool) Hash {
	d := sha256.New()
	d.Write(header)
	d.Write(payload)
	return finishHash(d, prev, genesis)
}

// finishHash completes a digest that has absorbed JCS(Header) ‖ JCS(Payload).
// Splitting it this way lets appenders hash their own bytes in parallel and
// leaves only the 64-byte link to the single committer goroutine.
func finishHash(d interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, prev Hash, genesis bool) Hash {
	if !genesis {
		var hx [2 * sha256.Size]byte
		prev.appendHex(hx[:0])
		d.Write(hx[:])
	}
	var h Hash
	d.Sum(h[:0])
	return h
}
