package testenv

import (
	"fmt"
	"strings"
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
