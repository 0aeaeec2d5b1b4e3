// Package testenv decides what a test does when the machine it runs on
// lacks something it needs: an external tool (chronyd, ptp4l, openssl, a
// C++ compiler), a capability, a kernel feature.
//
// The rule: a skipped integration test is a failure in CI. On a developer's
// machine a missing tool skips the test, so `go test ./...` stays usable
// anywhere. With FIXTAP_REQUIRE_INTEGRATION=1 in the environment — which
// .ci/run sets after installing every package the tests use — the same
// situation fails the test instead, so a test that silently stopped running
// cannot pass for one that ran.
//
// Tests call RequireTool for executables and Skip for any other "cannot run
// here" case; they never call t.Skip directly for missing prerequisites.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// IntegrationEnv is the environment variable that turns skips into failures.
// Only the exact value "1" enables it.
const IntegrationEnv = "FIXTAP_REQUIRE_INTEGRATION"

// Integration reports whether integration tests are required to run, that is
// whether FIXTAP_REQUIRE_INTEGRATION=1 is set.
func Integration() bool {
	return os.Getenv(IntegrationEnv) == "1"
}

// RequireTool returns the path of the executable name, found with
// exec.LookPath. When it is missing the test is skipped, or, when
// Integration() is true, failed with a message naming the tool.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if Integration() {
			t.Fatalf("testenv: required tool %q not found (%v); .ci/run installs it, and with %s=1 a missing tool is a failure, not a skip",
				name, err, IntegrationEnv)
		} else {
			t.Skipf("testenv: tool %q not found (%v); skipping (set %s=1 to make this a failure)", name, err, IntegrationEnv)
		}
		return ""
	}
	return path
}

// Skip skips the test with the formatted reason, or fails it when
// Integration() is true. Use it for any prerequisite other than a missing
// executable (no user namespaces, no permission, a daemon that cannot start).
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Integration() {
		t.Fatalf("testenv: cannot run here: %s (%s=1 is set, so this is a failure)", msg, IntegrationEnv)
		return
	}
	t.Skipf("testenv: skipping: %s (set %s=1 to make this a failure)", msg, IntegrationEnv)
}
