package seal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

const testOrigin = "fixtap.test/seal"

// testKey returns a fixed checkpoint key (Ed25519 seed = SHA-256("seal-test")).
func testKey(t testing.TB) *Key {
	t.Helper()
	seed := sha256.Sum256([]byte("seal-test"))
	k, _, err := GenerateKey(bytes.NewReader(seed[:]), "fixtap.test")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openDB opens a bare Pebble DB in a temp dir, for tests of the tree alone.
func openDB(t testing.TB) *pebble.DB {
	t.Helper()
	opts := &pebble.Options{Logger: discardLogger{}}
	db, err := pebble.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// storeLeaves stores the tree hashes of leaves (already leaf-hashed) after
// the size leaves already stored, batch leaves per Pebble batch, as the
// sealer does, and returns a Sealer reading them (no goroutine).
func storeLeaves(t testing.TB, db *pebble.DB, size uint64, leaves []tlog.Hash, batch int) *Sealer {
	t.Helper()
	w := hashReader{db: db, base: tlog.StoredHashCount(int64(size))}
	for len(leaves) > 0 {
		k := min(batch, len(leaves))
		b := db.NewBatch()
		if err := appendLeaves(b, &w, size, leaves[:k]); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		b.Close()
		size += uint64(k)
		leaves = leaves[k:]
		w.base, w.pending = tlog.StoredHashCount(int64(size)), w.pending[:0]
	}
	s := &Sealer{db: db}
	s.size.Store(size)
	return s
}

// openLog opens a chain.Log in dir in fsync-interval mode (fast appends).
func openLog(t testing.TB, dir string) *chain.Log {
	t.Helper()
	cfg := chain.DefaultConfig(dir)
	cfg.Durability = chain.SyncInterval
	cfg.SyncInterval = 2 * time.Millisecond
	cfg.SignWorkers = 1
	cfg.Logger = quietLogger()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("chain.Open: %v", err)
	}
	return l
}

// appendN appends n events and waits until they are durable.
func appendN(t testing.TB, l *chain.Log, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		if err := l.Append(ctx, chaintest.Entry(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if err := l.WaitDurable(ctx, uint64(from+n)); err != nil {
		t.Fatalf("WaitDurable: %v", err)
	}
}

func testConfig(t testing.TB) Config {
	cfg := DefaultConfig(testOrigin, testKey(t))
	cfg.Interval = 20 * time.Millisecond
	cfg.MaxBatch = 300
	cfg.Logger = quietLogger()
	return cfg
}
