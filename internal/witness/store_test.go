package witness

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/cosign"
)

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func openDB(t testing.TB) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{Logger: discardLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storeFixture is a log key, two witness signers and their policy.
type storeFixture struct {
	logS   note.Signer
	logV   note.Verifier
	w1, w2 *cosign.Signer
	policy *cosign.Policy
}

func newStoreFixture(t testing.TB) *storeFixture {
	t.Helper()
	f := &storeFixture{w1: cosigner(t, "witness.test/w1"), w2: cosigner(t, "witness.test/w2")}
	f.logS, f.logV = noteLog(t, testOrigin)
	vk := func(s *cosign.Signer) string { return s.Verifier().(fmt.Stringer).String() }
	p, err := cosign.ParsePolicy("t", []byte("witness w1 "+vk(f.w1)+" http://w1.test/\nwitness w2 "+vk(f.w2)+" http://w2.test/\ngroup g all w1 w2\nquorum g\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.policy = p
	return f
}

// cosignedNote returns the checkpoint (size, root) signed by the log and
// cosigned by signers.
func (f *storeFixture) cosignedNote(t testing.TB, size uint64, signers ...note.Signer) []byte {
	t.Helper()
	root := tlog.Hash{byte(size)}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, root)}, append([]note.Signer{f.logS}, signers...)...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func put(t testing.TB, db *pebble.DB, size uint64, rec []byte) {
	t.Helper()
	if err := db.Set(cosignedKey(size), rec, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestReader(t *testing.T) {
	f := newStoreFixture(t)
	db := openDB(t)
	r, err := OpenReader(db, f.policy, f.logV)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Latest(); !errors.Is(err, ErrNoCosigned) {
		t.Fatalf("empty Latest: %v", err)
	}
	for _, size := range []uint64{3, 10, 1 << 40} {
		put(t, db, size, append([]byte{cosignedRecordVersion}, f.cosignedNote(t, size, f.w1, f.w2)...))
	}
	// A record that no longer meets the policy (one cosignature) is
	// still read, with the cosignatures it has.
	put(t, db, 11, append([]byte{cosignedRecordVersion}, f.cosignedNote(t, 11, f.w2)...))

	c, err := r.Latest()
	if err != nil || c.Size != 1<<40 || c.Root != (tlog.Hash{0}) || len(c.Cosigs) != 2 || c.Origin != testOrigin {
		t.Fatalf("Latest = %+v, %v", c, err)
	}
	c, err = r.Get(11)
	if err != nil || len(c.Cosigs) != 1 || c.Cosigs[0].Witness != "w2" || !c.Cosigs[0].Time.Equal(fixedNow()) {
		t.Fatalf("Get(11) = %+v, %v", c, err)
	}
	if _, err := r.Get(4); !errors.Is(err, ErrNoCosigned) {
		t.Fatalf("Get(4): %v", err)
	}
	var sizes []uint64
	if err := r.All(0, 1<<41, func(c *Cosigned) error { sizes = append(sizes, c.Size); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[3 10 11 1099511627776]" {
		t.Fatalf("All sizes %v", sizes)
	}
	sizes = nil
	r.All(4, 11, func(c *Cosigned) error { sizes = append(sizes, c.Size); return nil })
	if fmt.Sprint(sizes) != "[10]" {
		t.Fatalf("All [4, 11) sizes %v", sizes)
	}
	stop := errors.New("stop")
	if err := r.All(0, 100, func(*Cosigned) error { return stop }); err != stop {
		t.Fatalf("All does not return fn's error: %v", err)
	}
	// A Reader without a policy reads the notes, no cosignatures.
	r0, _ := OpenReader(db, nil, f.logV)
	if c, err := r0.Get(10); err != nil || c.Cosigs != nil || !bytes.HasPrefix(c.Note, []byte(testOrigin)) {
		t.Fatalf("no-policy Get(10) = %+v, %v", c, err)
	}
	if _, err := OpenReader(db, nil, nil); err == nil {
		t.Error("OpenReader without a log verifier")
	}
}

func TestReaderRefuses(t *testing.T) {
	f := newStoreFixture(t)
	good := f.cosignedNote(t, 5, f.w1, f.w2)
	tampered := bytes.Replace(good, []byte("\n5\n"), []byte("\n6\n"), 1)
	otherLogS, _ := noteLog(t, "other.test/log")
	otherLog, _ := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n5\n%s\n", testOrigin, tlog.Hash{5})}, otherLogS, f.w1, f.w2)
	badCosig := append(bytes.Clone(good[:bytes.LastIndexByte(good[:len(good)-1], '\n')+1]), f.cosignedNote(t, 6, f.w2)[bytes.LastIndex(f.cosignedNote(t, 6, f.w2), []byte("— witness")):]...)
	notCheckpoint, _ := note.Sign(&note.Note{Text: "hello\n"}, f.logS)
	for name, c := range map[string]struct {
		size uint64
		rec  []byte
	}{
		"empty":            {5, nil},
		"version 0":        {5, append([]byte{0}, good...)},
		"version 2":        {5, append([]byte{2}, good...)},
		"size mismatch":    {6, append([]byte{1}, good...)},
		"tampered text":    {6, append([]byte{1}, tampered...)},
		"other log key":    {5, append([]byte{1}, otherLog...)},
		"bad cosignature":  {5, append([]byte{1}, badCosig...)},
		"not a checkpoint": {5, append([]byte{1}, notCheckpoint...)},
		"too big":          {5, append([]byte{1}, make([]byte, maxCosigned+1)...)},
	} {
		db := openDB(t)
		put(t, db, c.size, c.rec)
		r, _ := OpenReader(db, f.policy, f.logV)
		if got, err := r.Get(c.size); err == nil {
			t.Errorf("%s: accepted → %+v", name, got)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v does not wrap ErrMalformed", name, err)
		}
		if _, err := r.Latest(); err == nil {
			t.Errorf("%s: Latest accepted it", name)
		}
	}
	// A key of the wrong length under the prefix.
	db := openDB(t)
	db.Set([]byte{'w', 1, 2}, []byte{1}, pebble.Sync)
	r, _ := OpenReader(db, f.policy, f.logV)
	if _, err := r.Latest(); !errors.Is(err, ErrMalformed) {
		t.Errorf("short key: %v", err)
	}
}
