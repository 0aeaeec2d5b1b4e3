package seal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is the checkpoint signing key: an Ed25519 note key
// (golang.org/x/mod/sumdb/note), whose name is the key name in every
// checkpoint's signature line.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the public key in the note's own vkey format
	// ("<name>+<hash hex>+<base64 alg‖key>"), what a verifier is given.
	VerifierKey string
}

// KeyFileModeError reports a signing-key file that others may read.
type KeyFileModeError struct {
	Path string
	Mode fs.FileMode
}

func (e *KeyFileModeError) Error() string {
	return fmt.Sprintf("seal: key file %s has mode %v, want 0600 or stricter", e.Path, e.Mode)
}

// ParseKey builds a Key from a note signer key
// ("PRIVATE+KEY+<name>+<hash hex>+<base64 alg‖seed>", as note.GenerateKey
// makes). Only Ed25519 keys are accepted.
func ParseKey(skey string) (*Key, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("seal: signer key: %w", err)
	}
	// NewSigner accepted the key, so it has four '+'-separated fields and
	// then the base64 key (which may itself hold '+').
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("seal: signer key: %w: not an Ed25519 seed", ErrMalformed)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("seal: verifier key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("seal: verifier key: %w", err)
	}
	if v.KeyHash() != s.KeyHash() {
		return nil, fmt.Errorf("seal: signer key: %w: derived key hash %08x, key says %08x", ErrMalformed, v.KeyHash(), s.KeyHash())
	}
	return &Key{Signer: s, Verifier: v, VerifierKey: vkey}, nil
}

// GenerateKey makes a new Ed25519 checkpoint key named name, returning it
// and its signer key string (the secret).
func GenerateKey(rand io.Reader, name string) (*Key, string, error) {
	skey, _, err := note.GenerateKey(rand, name)
	if err != nil {
		return nil, "", fmt.Errorf("seal: generate key: %w", err)
	}
	k, err := ParseKey(skey)
	if err != nil {
		return nil, "", err
	}
	return k, skey, nil
}

// LoadOrCreateKeyFile loads the checkpoint key from path (the signer key
// string and a newline, mode 0600), or, when path does not exist, generates
// a key named name and writes it there crash-safely (temp file, fsync,
// rename, fsync of the directory). A key file that group or others may
// read is refused with a *KeyFileModeError. A loaded key keeps its own
// name; name is used only to create one.
func LoadOrCreateKeyFile(path, name string, rand io.Reader) (*Key, error) {
	k, err := LoadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, skey, err := GenerateKey(rand, name)
	if err != nil {
		return nil, err
	}
	if err := writeKeyFile(path, []byte(skey+"\n")); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadKeyFile loads a checkpoint key written by LoadOrCreateKeyFile.
func LoadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, &KeyFileModeError{Path: path, Mode: st.Mode().Perm()}
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if bytes.ContainsAny(data, "\r\n \t") {
		return nil, fmt.Errorf("seal: key file %s: %w: want one line", path, ErrMalformed)
	}
	return ParseKey(string(data))
}

func writeKeyFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".checkpoint-key-*")
	if err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	// Link, not rename: never replace a key that appeared meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("seal: write key file: %w", err)
	}
	os.Remove(tmp.Name())
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("seal: write key file: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("seal: write key file: sync dir: %w", err)
	}
	return nil
}
