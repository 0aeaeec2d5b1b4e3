package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fixtap/fixtap/internal/testenv"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tap.key")
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKeyFile(path, priv); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	got, err := LoadPrivateKeyFile(path)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("LoadPrivateKeyFile: %v", err)
	}
	if err := WritePrivateKeyFile(path, priv); err == nil {
		t.Fatal("WritePrivateKeyFile overwrote an existing key")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPrivateKeyFile(path)
		var me *KeyFileModeError
		if !errors.As(err, &me) || me.Path != path {
			t.Errorf("mode %04o: LoadPrivateKeyFile = %v, want *KeyFileModeError", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := LoadPrivateKeyFile(path); err != nil {
		t.Errorf("mode 0400 refused: %v", err)
	}
	pubPath := filepath.Join(dir, "tap.pub")
	pub := priv.Public().(ed25519.PublicKey)
	if err := WritePublicKeyFile(pubPath, pub); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pubPath)
	if back, err := ParsePublicKey(b); err != nil || !back.Equal(pub) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
}

// TestKeyFileOpenSSL: the key file is the standard PKCS #8 form, so OpenSSL
// reads it and derives the same public key.
func TestKeyFileOpenSSL(t *testing.T) {
	openssl := testenv.RequireTool(t, "openssl")
	dir := t.TempDir()
	path := filepath.Join(dir, "tap.key")
	priv, _ := GenerateKey(rand.Reader)
	if err := WritePrivateKeyFile(path, priv); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-in", path, "-pubout").Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	pub, err := ParsePublicKey(out)
	if err != nil || !pub.Equal(priv.Public()) {
		t.Fatalf("openssl derived another public key: %v", err)
	}
	// And a key OpenSSL generates loads.
	gen := filepath.Join(dir, "openssl.key")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", gen).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	os.Chmod(gen, 0o600)
	if _, err := LoadPrivateKeyFile(gen); err != nil {
		t.Fatalf("loading an OpenSSL key: %v", err)
	}
}

// TestSignMatchesStdlib holds the Signer (curve25519-voi's arithmetic) to
// crypto/ed25519 byte for byte: Ed25519 is deterministic, so any difference
// is a bug in one of them, and an event signed by fixtap must verify with
// any RFC 8032 implementation.
func TestSignMatchesStdlib(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s := NewSigner(priv)
		var h Hash
		switch i % 3 {
		case 0: // all zero
		case 1:
			for j := range h {
				h[j] = 0xff
			}
		default:
			_, _ = rand.Read(h[:])
		}
		got := s.Sign(h)
		if want := ed25519.Sign(priv, h[:]); !bytes.Equal(got, want) {
			t.Fatalf("key %x, hash %x: Sign = %x, crypto/ed25519 = %x", priv.Seed(), h, got, want)
		}
		if !VerifySignature(s.Public(), h, got) {
			t.Fatalf("key %x, hash %x: crypto/ed25519 rejects the signature", priv.Seed(), h)
		}
	}
}

// BenchmarkSign: one event signature, the Signer's against crypto/ed25519's.
//
//	go test -run '^$' -bench 'BenchmarkSign$' -count 3 ./internal/chain
func BenchmarkSign(b *testing.B) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s := NewSigner(priv)
	var h Hash
	_, _ = rand.Read(h[:])
	b.Run("signer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Sign(h)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ed25519.Sign(priv, h[:])
		}
	})
}

// TestNewSignerRefusesWrongLength: a key that is not seed ‖ public key
// panics in NewSigner, not later in a signer goroutine.
func TestNewSignerRefusesWrongLength(t *testing.T) {
	for _, n := range []int{0, 32, 63, 65} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSigner with a %d-byte key did not panic", n)
				}
			}()
			NewSigner(make(ed25519.PrivateKey, n))
		}()
	}
}
