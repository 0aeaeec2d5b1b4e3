package verify

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoStorageOrNetwork: the verifier runs on an auditor's machine with
// nothing but the bundle, so it must not link Pebble, quickfix, or any
// package that opens network connections. (crypto/x509 pulls in "net" for
// the IP-address type of certificates; nothing here dials.)
func TestNoStorageOrNetwork(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/cockroachdb/pebble", "github.com/quickfixgo/", "net/http", "crypto/tls", "net/rpc", "net/smtp",
		"github.com/fixtap/fixtap/internal/chain", "github.com/fixtap/fixtap/internal/seal", "github.com/fixtap/fixtap/internal/tap"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("internal/verify depends on %s", dep)
			}
		}
	}
}
