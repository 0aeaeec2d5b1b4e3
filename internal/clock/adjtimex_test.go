//go:build linux

package clock

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadAdjtimex checks the read-only call against the running kernel:
// either it answers (and then STA_UNSYNC agrees with the TIME_ERROR state
// the kernel returns for an unsynchronised clock) or it says why not.
func TestReadAdjtimex(t *testing.T) {
	a := readAdjtimex()
	if !a.Available {
		if a.Err == "" {
			t.Fatal("unavailable without a reason")
		}
		t.Logf("adjtimex unavailable here: %s", a.Err)
		return
	}
	t.Logf("adjtimex: state %d status %#x maxerror %dµs esterror %dµs", a.State, a.Status, a.MaxErrorUs, a.EstErrorUs)
	if runtime.GOOS == "linux" && a.Unsync() && a.State != unix.TIME_ERROR {
		t.Errorf("STA_UNSYNC set but state %d, want TIME_ERROR", a.State)
	}
}
