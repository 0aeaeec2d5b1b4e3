package chain

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// dirState is every file of dir but LOCK with its size and modification
// time: what a read-only open must leave as it found it.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LOCK" {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprint(st.ModTime(), st.Size(), st.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenReadOnly reads a closed log read-only: the same records, hashes
// and signatures as the log that wrote them, every write refused, and no
// file of the directory touched.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	key := testKey(t)
	l, cfg := openTestLog(t, func(c *Config) { c.Signer = NewSigner(key); c.TailCheck = -1 })
	const n = 300
	for i := range n {
		if _, _, err := l.AppendWait(ctx, testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitSigned(ctx, n); err != nil {
		t.Fatal(err)
	}
	var want []*Record
	if err := l.Range(0, n, func(r *Record) error { want = append(want, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, cfg.Dir)

	rcfg := DefaultConfig(cfg.Dir)
	rcfg.ReadOnly = true
	rcfg.TailCheck = -1
	rcfg.Logger = quietLogger()
	ro, err := Open(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := ro.Durable(); d != n {
		t.Fatalf("read-only Durable() = %d, want %d", d, n)
	}
	i := 0
	err = ro.Range(0, n, func(r *Record) error {
		w := want[i]
		i++
		if r.Seq != w.Seq || r.Hash != w.Hash || r.Prev != w.Prev || !r.Signed || r.Signature != w.Signature ||
			string(r.Header) != string(w.Header) || string(r.Payload) != string(w.Payload) {
			t.Errorf("seq %d differs from what the writer read", r.Seq)
		}
		return r.Check()
	})
	if err != nil || i != n {
		t.Fatalf("Range: %d records, %v", i, err)
	}
	if r, err := ro.Get(n - 1); err != nil || r.Hash != want[n-1].Hash {
		t.Fatalf("Get(%d): %v", n-1, err)
	}
	verifyAll(t, ro, key.Public().(ed25519.PublicKey))
	if _, err := ro.Get(n); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Get beyond the stored size: %v", err)
	}
	if err := ro.Append(ctx, testEntry(n)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append: %v, want ErrReadOnly", err)
	}
	if _, _, err := ro.AppendWait(ctx, testEntry(n)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("AppendWait: %v, want ErrReadOnly", err)
	}
	if err := ro.Write(ctx, func(func(k, v []byte)) {}, nil); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Write: %v, want ErrReadOnly", err)
	}
	if err := ro.Sync(ctx); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Sync: %v, want ErrReadOnly", err)
	}
	if err := ro.WaitDurable(ctx, n+1); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WaitDurable beyond the stored size: %v, want ErrReadOnly", err)
	}
	if err := ro.WaitDurable(ctx, n); err != nil {
		t.Errorf("WaitDurable(%d): %v", n, err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ro.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	after := dirState(t, cfg.Dir)
	for p, s := range before {
		if after[p] != s {
			t.Errorf("%s changed: %q → %q", p, s, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s created by a read-only open", p)
		}
	}

	// A signer on a read-only log is a configuration error.
	rcfg.Signer = NewSigner(key)
	if _, err := Open(ctx, rcfg); err == nil {
		t.Error("read-only open with a Signer accepted")
	}
	// Two read-only opens share nothing; the writer can reopen afterwards.
	ro2, err := OpenReadOnly(ctx, cfg.Dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ro2.Close()
	w, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w.Durable() != n {
		t.Fatalf("reopened writer: size %d", w.Durable())
	}
	w.Close()
}

// TestOpenReadOnlyUnflushedTail opens read-only a log that lost power: its
// newest events are in the WAL only, and some of their signatures were not
// written. The WAL is replayed in memory (nothing is flushed) and records
// without a signature come back with Signed false.
func TestOpenReadOnlyUnflushedTail(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	cfg := DefaultConfig("log")
	cfg.FS = mem
	cfg.Logger = quietLogger()
	cfg.TailCheck = -1
	cfg.Signer = NewSigner(testKey(t))
	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := range n {
		e := testEntry(i)
		if i < n-1 {
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, _, err := l.AppendWait(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0, RNG: rand.New(rand.NewPCG(1, 2))})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rcfg := DefaultConfig("log")
	rcfg.FS = crashed
	rcfg.ReadOnly = true
	rcfg.TailCheck = -1
	rcfg.Logger = quietLogger()
	ro, err := Open(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if d := ro.Durable(); d != n {
		t.Fatalf("Durable() = %d after a power cut with %d events acknowledged", d, n)
	}
	var unsigned int
	if err := ro.Range(0, n, func(r *Record) error {
		if !r.Signed {
			unsigned++
		}
		return r.Check()
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d records unsigned after the power cut", unsigned, n)
}

// TestOpenReadOnlyRefusesNonLog: a directory that is not a fixtap log is a
// *NotLogError naming it, and a read-only open creates nothing.
func TestOpenReadOnlyRefusesNonLog(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	missing := filepath.Join(root, "missing")
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(root, "bare") // a Pebble DB without a format record
	other := filepath.Join(root, "other")
	for dir, format := range map[string]string{bare: "", other: "someone-else/3"} {
		db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: FormatMajorVersion})
		if err != nil {
			t.Fatal(err)
		}
		if format != "" {
			if err := db.Set(keyFormat, []byte(format), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Set([]byte("zz"), []byte("v"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		dir, format string
		cause       bool
	}{{missing, "", true}, {empty, "", true}, {bare, "", false}, {other, "someone-else/3", false}} {
		_, err := OpenReadOnly(ctx, c.dir, quietLogger())
		var nle *NotLogError
		if !errors.As(err, &nle) || nle.Dir != c.dir || nle.Format != c.format || (nle.Err != nil) != c.cause {
			t.Errorf("%s: %v, want *NotLogError{Dir: %q, Format: %q}", filepath.Base(c.dir), err, c.dir, c.format)
			continue
		}
		t.Logf("%s: %v", filepath.Base(c.dir), err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open created %s: %v", missing, err)
	}
	// The writer refuses another format too, with the same error.
	cfg := DefaultConfig(other)
	cfg.Logger = quietLogger()
	_, err := Open(ctx, cfg)
	var nle *NotLogError
	if !errors.As(err, &nle) || nle.Format != "someone-else/3" {
		t.Errorf("Open of another format: %v", err)
	}
}

// TestReopenEmptyLog: a log created and closed without an event has a
// format record and no size record; it reopens empty, read-write and
// read-only.
func TestReopenEmptyLog(t *testing.T) {
	ctx := context.Background()
	l, cfg := openTestLog(t, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, cfg.Dir, quietLogger())
	if err != nil {
		t.Fatalf("read-only: %v", err)
	}
	if ro.Durable() != 0 {
		t.Errorf("read-only: size %d", ro.Durable())
	}
	ro.Close()
	l, err = Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if _, _, err := l.AppendWait(ctx, testEntry(0)); err != nil {
		t.Fatal(err)
	}
	l.Close()
}
