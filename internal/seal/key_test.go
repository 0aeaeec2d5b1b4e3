package seal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint.key")
	seed := sha256.Sum256([]byte("key-file"))
	k, err := LoadOrCreateKeyFile(path, "fixtap.test", bytes.NewReader(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	// Loaded again (no randomness needed), it is the same key.
	k2, err := LoadOrCreateKeyFile(path, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	if k2.VerifierKey != k.VerifierKey || k2.Signer.Name() != "fixtap.test" {
		t.Fatalf("reloaded %s, created %s", k2.VerifierKey, k.VerifierKey)
	}
	// A note signed with the loaded key verifies with the published vkey.
	msg, err := note.Sign(&note.Note{Text: "x\n"}, k2.Signer)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("note signed with the file's key: %v", err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var me *KeyFileModeError
	if _, err := LoadKeyFile(path); !errors.As(err, &me) {
		t.Fatalf("LoadKeyFile of a 0644 file: %v, want *KeyFileModeError", err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	k := testKey(t)
	_, skey, err := GenerateKey(bytes.NewReader(make([]byte, 32)), "n")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", k.VerifierKey, skey + "x", skey[:len(skey)-4]} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
