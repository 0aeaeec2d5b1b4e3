package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder stands in for a testing.TB to observe which of Fatalf and Skipf a
// helper calls. Unlike the real ones, its Fatalf and Skipf return.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func (r *recorder) Skipf(format string, args ...any) { r.skip = fmt.Sprintf(format, args...) }

const missingTool = "fixtap-testenv-no-such-tool"

func TestRequireToolFindsSh(t *testing.T) {
	if p := RequireTool(t, "sh"); p == "" {
		t.Fatal("RequireTool(sh) returned an empty path")
	}
}

func TestIntegration(t *testing.T) {
	for _, c := range []struct {
		val  string
		want bool
	}{{"", false}, {"0", false}, {"yes", false}, {"1", true}} {
		t.Setenv(IntegrationEnv, c.val)
		if got := Integration(); got != c.want {
			t.Errorf("%s=%q: Integration() = %v, want %v", IntegrationEnv, c.val, got, c.want)
		}
	}
}

func TestMissingTool(t *testing.T) {
	t.Run("skips", func(t *testing.T) {
		t.Setenv(IntegrationEnv, "")
		r := &recorder{TB: t}
		RequireTool(r, missingTool)
		if r.fatal != "" || !strings.Contains(r.skip, missingTool) {
			t.Errorf("want a skip naming the tool; got skip=%q fatal=%q", r.skip, r.fatal)
		}
	})
	t.Run("fails under integration", func(t *testing.T) {
		t.Setenv(IntegrationEnv, "1")
		r := &recorder{TB: t}
		RequireTool(r, missingTool)
		if r.skip != "" || !strings.Contains(r.fatal, missingTool) || !strings.Contains(r.fatal, ".ci/run") {
			t.Errorf("want a failure naming the tool and .ci/run; got skip=%q fatal=%q", r.skip, r.fatal)
		}
	})
}

func TestSkip(t *testing.T) {
	t.Run("skips", func(t *testing.T) {
		t.Setenv(IntegrationEnv, "")
		r := &recorder{TB: t}
		Skip(r, "no %s", "userns")
		if r.fatal != "" || !strings.Contains(r.skip, "no userns") {
			t.Errorf("want a skip; got skip=%q fatal=%q", r.skip, r.fatal)
		}
	})
	t.Run("fails under integration", func(t *testing.T) {
		t.Setenv(IntegrationEnv, "1")
		r := &recorder{TB: t}
		Skip(r, "no %s", "userns")
		if r.skip != "" || !strings.Contains(r.fatal, "no userns") {
			t.Errorf("want a failure; got skip=%q fatal=%q", r.skip, r.fatal)
		}
	})
}

func TestRequireGoToolFindsOnPath(t *testing.T) {
	if p := RequireGoTool(t, "sh"); p == "" {
		t.Fatal("RequireGoTool(sh) returned an empty path")
	}
}

func TestMissingGoTool(t *testing.T) {
	t.Run("skips", func(t *testing.T) {
		t.Setenv(IntegrationEnv, "")
		r := &recorder{TB: t}
		RequireGoTool(r, missingTool)
		if r.fatal != "" || !strings.Contains(r.skip, missingTool) || !strings.Contains(r.skip, GoToolsInstall) {
			t.Errorf("want a skip naming the tool and %q; got skip=%q fatal=%q", GoToolsInstall, r.skip, r.fatal)
		}
	})
	t.Run("fails under integration", func(t *testing.T) {
		t.Setenv(IntegrationEnv, "1")
		r := &recorder{TB: t}
		RequireGoTool(r, missingTool)
		if r.skip != "" || !strings.Contains(r.fatal, missingTool) || !strings.Contains(r.fatal, GoToolsInstall) {
			t.Errorf("want a failure naming the tool and %q; got skip=%q fatal=%q", GoToolsInstall, r.skip, r.fatal)
		}
	})
}

func TestParseGoEnvBinDirs(t *testing.T) {
	for _, c := range []struct {
		out  string
		want []string
	}{
		{"/gobin\n/root/go\n", []string{"/gobin"}},
		{"\n/root/go\n", []string{"/root/go/bin"}},
		{"\n/a:/b\n", []string{"/a/bin", "/b/bin"}},
	} {
		got, err := parseGoEnvBinDirs(c.out)
		if err != nil || strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("parseGoEnvBinDirs(%q) = %q, %v; want %q", c.out, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "\n\n", "/gobin\n"} {
		if got, err := parseGoEnvBinDirs(bad); err == nil {
			t.Errorf("parseGoEnvBinDirs(%q) = %q, want an error", bad, got)
		}
	}
}

// TestRequireGoToolFindsInGOBIN installs a fake tool in a temporary GOBIN,
// not on PATH, and expects RequireGoTool to find it there through `go env`.
func TestRequireGoToolFindsInGOBIN(t *testing.T) {
	dir := t.TempDir()
	const name = "fixtap-testenv-fake-go-tool"
	want := filepath.Join(dir, name)
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOBIN", dir)
	saved := goBinDirs
	goBinDirs = sync.OnceValues(askGoBinDirs)
	t.Cleanup(func() { goBinDirs = saved })
	if got := RequireGoTool(t, name); got != want {
		t.Fatalf("RequireGoTool(%s) = %q, want %q", name, got, want)
	}
}
