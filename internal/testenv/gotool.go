package testenv

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// GoToolsInstall is the command that installs the Go tools the integration
// tests run (versitygw, litewitness), pinned in tools/go.mod.
const GoToolsInstall = "go -C tools install tool"

// goBinDirs asks `go env GOBIN GOPATH` once per test binary and returns the
// directories `go install` writes to.
var goBinDirs = sync.OnceValues(askGoBinDirs)

func askGoBinDirs() ([]string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOBIN GOPATH: %w", err)
	}
	return parseGoEnvBinDirs(string(out))
}

// parseGoEnvBinDirs turns the output of `go env GOBIN GOPATH` (one value per
// line) into the directories `go install` writes to: GOBIN when set, else the
// bin directory of each GOPATH entry.
func parseGoEnvBinDirs(out string) ([]string, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("go env GOBIN GOPATH: want 2 lines, got %q", out)
	}
	if gobin := strings.TrimSpace(lines[0]); gobin != "" {
		return []string{gobin}, nil
	}
	var dirs []string
	for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("go env GOBIN GOPATH: neither is set in %q", out)
	}
	return dirs, nil
}

// findGoTool looks for the executable name on PATH, then in GOBIN or, when
// GOBIN is unset, in each GOPATH/bin (where `go install` puts it).
func findGoTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, err := goBinDirs()
	if err != nil {
		return "", fmt.Errorf("%q not on PATH, and %w", name, err)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not on PATH nor in %s: %w", name, strings.Join(dirs, ", "), fs.ErrNotExist)
}

// RequireGoTool returns the path of the executable name installed by
// `go -C tools install tool` (tools/go.mod pins versitygw and litewitness),
// looking on PATH, then in GOBIN or, when that is unset, GOPATH/bin — where
// `go install` writes (`go env` is asked once per test binary). When it is missing the test is skipped, or, when
// Integration() is true, failed — as RequireTool does — with a message
// naming the install command.
func RequireGoTool(t testing.TB, name string) string {
	t.Helper()
	path, err := findGoTool(name)
	if err != nil {
		if Integration() {
			t.Fatalf("testenv: required Go tool %q not found (%v); run `%s` (.ci/run does), and with %s=1 a missing tool is a failure, not a skip",
				name, err, GoToolsInstall, IntegrationEnv)
		} else {
			t.Skipf("testenv: Go tool %q not found (%v); install it with `%s`; skipping (set %s=1 to make this a failure)",
				name, err, GoToolsInstall, IntegrationEnv)
		}
		return ""
	}
	return path
}
