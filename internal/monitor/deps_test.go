package monitor

import (
	"os/exec"
	"strings"
	"testing"
)

// TestIndependent: the monitor is an outsider. It must not link the tap's
// storage, FIX engine or writer-side packages — only what reads replicas
// over HTTP and checks them (a bug in how the tap writes is caught here,
// not repeated).
func TestIndependent(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/cockroachdb/pebble", "github.com/quickfixgo/", "github.com/aws/aws-sdk-go-v2/service/s3",
		"github.com/fixtap/fixtap/internal/chain", "github.com/fixtap/fixtap/internal/seal", "github.com/fixtap/fixtap/internal/tap",
		"github.com/fixtap/fixtap/internal/replica", "github.com/fixtap/fixtap/internal/export"}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("internal/monitor depends on %s", dep)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages: %q", len(deps), out)
	}
}
