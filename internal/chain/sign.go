package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// KeyID identifies an event-signing key: the first 8 bytes of SHA-256 of the
// raw 32-byte Ed25519 public key, shown as 16 lowercase hex characters.
type KeyID [8]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// KeyIDOf computes the KeyID of an Ed25519 public key.
func KeyIDOf(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], sum[:8])
	return id
}

// Signer signs event hashes with one Ed25519 key.
//
// The signing arithmetic is curve25519-voi's (a Go port of
// curve25519-dalek), not crypto/ed25519's: every signed event costs one
// signature, and on the reference machine voi signs in ~9.5 µs against the
// standard library's ~16.9 µs (BenchmarkSign). Ed25519 (RFC 8032 §5.1.6) is
// deterministic, so the two give the same 64 bytes for the same key and
// message — TestSignMatchesStdlib holds it to that, and the profile's
// vectors (TestSignatureVectors) pin the bytes. Verification everywhere
// (VerifySignature, internal/verify) stays on the standard library, so an
// auditor's verdict never depends on this choice.
type Signer struct {
	priv ed25519.PrivateKey
	id   KeyID
}

// NewSigner wraps an Ed25519 private key (seed ‖ public key, as
// crypto/ed25519 and LoadPrivateKeyFile give it). It panics if priv is not
// ed25519.PrivateKeySize bytes: here, not later in a signer goroutine.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	if len(priv) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("chain: NewSigner: private key of %d bytes, want %d", len(priv), ed25519.PrivateKeySize))
	}
	return &Signer{priv: priv, id: KeyIDOf(priv.Public().(ed25519.PublicKey))}
}

// KeyID returns the signer's KeyID.
func (s *Signer) KeyID() KeyID { return s.id }

// Public returns the raw public key.
func (s *Signer) Public() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Sign returns the profile's signature: Ed25519 over the RAW 32 bytes of the
// EventHash (not its 64 hex characters). Ed25519 is deterministic, so the
// same key and hash always give the same signature. (voi's PrivateKey is
// the same 64 bytes, seed ‖ public key, as crypto/ed25519's.)
func (s *Signer) Sign(h Hash) []byte { return voi.Sign(voi.PrivateKey(s.priv), h[:]) }

// SignatureString is the signature as it appears in Security.Signature:
// standard, padded base64.
func SignatureString(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }

// VerifySignature checks an event signature.
func VerifySignature(pub ed25519.PublicKey, h Hash, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, h[:], sig)
}

// Key files.
//
// A private key file is PEM "PRIVATE KEY" holding PKCS #8 (RFC 8410) for
// Ed25519 — the format `openssl genpkey -algorithm ed25519` writes and
// `openssl pkey` reads — with mode 0600. The public key file is PEM
// "PUBLIC KEY" (SubjectPublicKeyInfo). Both are versionless by design:
// the format is the standard's.

// KeyFileModeError refuses a private key file readable or writable by group
// or others.
type KeyFileModeError struct {
	Path string
	Mode os.FileMode
}

func (e *KeyFileModeError) Error() string {
	return fmt.Sprintf("chain: key file %s has mode %04o: a private key must not be accessible to group or others (chmod 600 %s)",
		e.Path, e.Mode.Perm(), e.Path)
}

// GenerateKey makes a new Ed25519 key from rand.
func GenerateKey(rand io.Reader) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("chain: generate key: %w", err)
	}
	return priv, nil
}

// WritePrivateKeyFile writes priv to path with mode 0600. It refuses to
// overwrite an existing file, and syncs the file and its directory before
// returning (a key that signs events must not vanish in a crash).
func WritePrivateKeyFile(path string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("chain: encode key: %w", err)
	}
	return writeNewFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// WritePublicKeyFile writes pub to path (mode 0644), refusing to overwrite.
func WritePublicKeyFile(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("chain: encode public key: %w", err)
	}
	return writeNewFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("chain: write key file: %w", err)
	}
	// The umask may have narrowed the mode; never widened it. Set it exactly.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("chain: write key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("chain: write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("chain: sync key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chain: close key file %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("chain: sync directory of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("chain: sync directory of %s: %w", path, err)
	}
	return nil
}

// LoadPrivateKeyFile reads an Ed25519 private key file, refusing one whose
// permissions let group or others read or write it.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("chain: load key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("chain: load key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("chain: load key: %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &KeyFileModeError{Path: path, Mode: fi.Mode()}
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("chain: load key %s: %w", path, err)
	}
	return ParsePrivateKey(data)
}

// ParsePrivateKey parses a PEM PKCS #8 Ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("chain: key file: no PEM \"PRIVATE KEY\" block")
	}
	if len(trimSpace(rest)) != 0 {
		return nil, errors.New("chain: key file: trailing data after the key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("chain: key file: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("chain: key file: %T is not an Ed25519 key", k)
	}
	return priv, nil
}

// ParsePublicKey parses a PEM SubjectPublicKeyInfo Ed25519 public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("chain: public key file: no PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("chain: public key file: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("chain: public key file: %T is not an Ed25519 key", k)
	}
	return pub, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
