package index

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestSessionLast: the newest n of a session's events are the last n of
// Session's answer, for every n, whether they come from the index, the
// un-indexed tail or both.
func TestSessionLast(t *testing.T) {
	ms, _ := fixture()
	ctx := context.Background()
	for _, split := range []int{0, 3, 9, len(ms)} {
		t.Run(fmt.Sprint("indexed ", split), func(t *testing.T) {
			l := openLog(t, t.TempDir())
			defer closeLog(t, l)
			appendAll(t, l, ms[:split])
			if split > 0 {
				shutdown(t, startIndexer(t, l, testConfig()))
			}
			appendAll(t, l, ms[split:])
			for _, s := range []string{sessA, sessB, "FIX.4.4:TAP->NONE", "FIX.4.4:TAP->VENU"} {
				all, err := Session(ctx, l, s)
				if err != nil {
					t.Fatal(err)
				}
				for n := 1; n <= len(all)+2; n++ {
					got, err := SessionLast(ctx, l, s, n)
					if err != nil {
						t.Fatal(err)
					}
					want := all[max(0, len(all)-n):]
					if len(want) == 0 {
						want = nil
					}
					equal(t, fmt.Sprintf("SessionLast(%s, %d)", s, n), got, want)
				}
			}
		})
	}
	l := openLog(t, t.TempDir())
	defer closeLog(t, l)
	for _, c := range []struct {
		name string
		n    int
	}{{"", 5}, {sessA, 0}, {sessA, -1}} {
		if _, err := SessionLast(ctx, l, c.name, c.n); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("SessionLast(%q, %d): %v, want ErrInvalidQuery", c.name, c.n, err)
		}
	}
}
