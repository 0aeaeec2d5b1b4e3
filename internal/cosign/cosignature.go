package cosign

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// AlgCosignatureV1 is the signature type byte of an Ed25519 cosignature/v1
// key (C2SP tlog-cosignature, "Format"; C2SP signed-note, "Signature
// types").
const AlgCosignatureV1 = 0x04

// sigSize is the size of a timestamped_signature for Ed25519
// (C2SP tlog-cosignature, "Format"): u64 timestamp ‖ 64-byte signature.
const sigSize = 8 + ed25519.SignatureSize

// ErrMalformed is wrapped by every error about a key or signature that is
// not well-formed.
var ErrMalformed = errors.New("cosign: malformed")

// KeyHash returns the key ID of an Ed25519 cosigner key (C2SP
// tlog-cosignature, "Format"):
//
//	SHA-256(<name> ‖ "\n" ‖ 0x04 ‖ 32-byte Ed25519 public key)[:4]
func KeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', AlgCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey returns the vkey of an Ed25519 cosigner key (C2SP
// signed-note, "Verifier keys"): "<name>+<key ID, 8 hex>+<base64(0x04 ‖
// public key)>".
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("%w: key name %q: want non-empty UTF-8 without spaces or '+'", ErrMalformed, name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: public key of %d bytes", ErrMalformed, len(pub))
	}
	return fmt.Sprintf("%s+%08x+%s", name, KeyHash(name, pub),
		base64.StdEncoding.EncodeToString(append([]byte{AlgCosignatureV1}, pub...))), nil
}

// validName is the signed-note rule for a key name: non-empty UTF-8 with
// no Unicode space and no '+'.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// verifier checks cosignature/v1 signatures of one Ed25519 key.
type verifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
	vkey string
}

// NewVerifier returns the note.Verifier of a cosignature/v1 vkey
// "<name>+<key ID hex>+<base64(0x04 ‖ 32-byte Ed25519 public key)>",
// parsed strictly: eight lower-case hex digits that equal the key ID
// computed from the name and key, canonical padded base64, type byte 0x04,
// 32 key bytes. Its Verify accepts only a 72-byte timestamped_signature
// whose timestamp is at most 2^63−1 and whose Ed25519 signature covers the
// cosignature/v1 message (C2SP tlog-cosignature, "Ed25519 signed
// message").
func NewVerifier(vkey string) (note.Verifier, error) {
	fail := func(format string, args ...any) (note.Verifier, error) {
		return nil, fmt.Errorf("cosign: verifier key %q: %w: "+format, append([]any{vkey, ErrMalformed}, args...)...)
	}
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validName(name) {
		return fail("want <name>+<key ID>+<key>")
	}
	if len(hash16) != 8 || strings.ToLower(hash16) != hash16 {
		return fail("key ID %q: want 8 lower-case hex digits", hash16)
	}
	hb, err := hex.DecodeString(hash16)
	if err != nil {
		return fail("key ID %q: want 8 lower-case hex digits", hash16)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || base64.StdEncoding.EncodeToString(key) != key64 {
		return fail("key is not canonical base64")
	}
	if len(key) == 0 || key[0] != AlgCosignatureV1 {
		return fail("signature type %s: want 0x04 (cosignature/v1 Ed25519)", typeByte(key))
	}
	if len(key) != 1+ed25519.PublicKeySize {
		return fail("%d key bytes, want %d", len(key)-1, ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(key[1:])
	h := KeyHash(name, pub)
	if binary.BigEndian.Uint32(hb) != h {
		return fail("key ID %s, the key's is %08x", hash16, h)
	}
	return &verifier{name: name, hash: h, pub: pub, vkey: vkey}, nil
}

func typeByte(key []byte) string {
	if len(key) == 0 {
		return "(none)"
	}
	return fmt.Sprintf("0x%02x", key[0])
}

func (v *verifier) Name() string    { return v.name }
func (v *verifier) KeyHash() uint32 { return v.hash }

// String returns the vkey.
func (v *verifier) String() string { return v.vkey }

// Verify reports whether sig (without the key ID) is a timestamped
// cosignature/v1 signature of msg, the checkpoint body.
func (v *verifier) Verify(msg, sig []byte) bool {
	if len(sig) != sigSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 {
		return false
	}
	return ed25519.Verify(v.pub, appendMessage(nil, t, msg), sig[8:])
}

// appendMessage appends the cosignature/v1 signed message (C2SP
// tlog-cosignature, "Ed25519 signed message"): the header line, the
// timestamp line (ASCII decimal, no leading zeroes), then the checkpoint
// body including its final newline.
func appendMessage(dst []byte, t uint64, body []byte) []byte {
	dst = append(dst, "cosignature/v1\ntime "...)
	dst = strconv.AppendUint(dst, t, 10)
	dst = append(dst, '\n')
	return append(dst, body...)
}

// Signer makes cosignature/v1 signatures. fixtap does not witness other
// logs; it exists for tests and tools that play a witness.
type Signer struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	now  func() time.Time
	v    note.Verifier
}

// NewSigner returns a cosignature/v1 signer named name with key, stamping
// each signature with now() in whole POSIX seconds.
func NewSigner(name string, key ed25519.PrivateKey, now func() time.Time) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("cosign: signer: %w: private key of %d bytes", ErrMalformed, len(key))
	}
	if now == nil {
		return nil, errors.New("cosign: signer: now is nil")
	}
	pub := key.Public().(ed25519.PublicKey)
	vkey, err := VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("cosign: signer: %w", err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &Signer{name: name, hash: KeyHash(name, pub), key: key, now: now, v: v}, nil
}

func (s *Signer) Name() string    { return s.name }
func (s *Signer) KeyHash() uint32 { return s.hash }

// Verifier returns the matching verifier; its String is the vkey.
func (s *Signer) Verifier() note.Verifier { return s.v }

// Sign returns timestamp(8, big-endian) ‖ Ed25519 signature of the
// cosignature/v1 message over msg.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	ts := s.now().Unix()
	if ts < 0 {
		return nil, fmt.Errorf("cosign: sign: time %d is before the epoch", ts)
	}
	t := uint64(ts)
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, sigSize), t)
	return append(sig, ed25519.Sign(s.key, appendMessage(nil, t, msg))...), nil
}

// Timestamp returns the time a cosignature was made: the timestamp field of
// its timestamped_signature (C2SP tlog-cosignature, "Format"), in whole
// seconds, UTC. It checks the shape only — key ID equal to sig.Hash,
// 4+8+64 bytes, timestamp ≤ 2^63−1 — not the signature; call it on
// signatures note.Open has verified.
func Timestamp(sig note.Signature) (time.Time, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(sig.Base64)
	if err != nil {
		return time.Time{}, fmt.Errorf("cosign: signature of %s: %w: %w", sig.Name, ErrMalformed, err)
	}
	if len(b) != 4+sigSize {
		return time.Time{}, fmt.Errorf("cosign: signature of %s: %w: %d bytes, want %d", sig.Name, ErrMalformed, len(b), 4+sigSize)
	}
	if h := binary.BigEndian.Uint32(b); h != sig.Hash {
		return time.Time{}, fmt.Errorf("cosign: signature of %s: %w: key ID %08x, note says %08x", sig.Name, ErrMalformed, h, sig.Hash)
	}
	t := binary.BigEndian.Uint64(b[4:])
	if t > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("cosign: signature of %s: %w: timestamp %d > 2^63-1", sig.Name, ErrMalformed, t)
	}
	return time.Unix(int64(t), 0).UTC(), nil
}
