package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "tap.key")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"keygen", "-out", key}, &out, &errb); err != nil {
		t.Fatalf("keygen: %v\n%s", err, errb.String())
	}
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	priv, err := chain.LoadPrivateKeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	s := chain.NewSigner(priv)
	m := regexp.MustCompile(`(?m)^key id: ([0-9a-f]{16})$`).FindSubmatch(out.Bytes())
	if m == nil || string(m[1]) != s.KeyID().String() {
		t.Fatalf("output does not print the KeyID %s:\n%s", s.KeyID(), out.String())
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := chain.ParsePublicKey(pub); err != nil || !p.Equal(s.Public()) {
		t.Fatalf("public key file does not match: %v", err)
	}
	// A second keygen to the same path must not overwrite the key.
	if err := run(context.Background(), []string{"keygen", "-out", key}, &out, &errb); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	var ue *usageError
	if err := run(context.Background(), nil, &out, &errb); !errors.As(err, &ue) {
		t.Fatalf("no args: %v", err)
	}
	if err := run(context.Background(), []string{"nonsense"}, &out, &errb); !errors.As(err, &ue) {
		t.Fatalf("unknown subcommand: %v", err)
	}
	if err := run(context.Background(), []string{"keygen"}, &out, &errb); !errors.As(err, &ue) {
		t.Fatalf("keygen without -out: %v", err)
	}
}
