package replica

import (
	"errors"
	"testing"
)

// TestBuild: objCache.build hands back the objects its build made and its
// error, and a failed build is not remembered: the next call builds again.
// (That callers arriving during a build share it is singleflight's
// promise, not re-tested here.)
func TestBuild(t *testing.T) {
	c := newObjCache(1 << 20)
	want := []*object{newObject("tile/entries/000", []byte("e"), typeTile), newObject("fixtap/events/000", []byte("v\n"), typeEvents)}
	got, err := c.build("fixtap/events/000", func() ([]*object, error) { return want, nil })
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("build = %v, %v", got, err)
	}
	boom := errors.New("boom")
	if objs, err := c.build("k", func() ([]*object, error) { return nil, boom }); !errors.Is(err, boom) || objs != nil {
		t.Fatalf("failed build = %v, %v", objs, err)
	}
	calls := 0
	if objs, err := c.build("k", func() ([]*object, error) { calls++; return want, nil }); err != nil || len(objs) != 2 || calls != 1 {
		t.Fatalf("build after a failure = %v, %v (%d calls)", objs, err, calls)
	}
}
