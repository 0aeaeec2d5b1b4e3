package snapshot

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/fixtap/fixtap/internal/chain/chaintest"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// shortDir is a temp dir with a short path: unix socket paths are limited.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "snap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "data")
}

func openLog(t *testing.T, dir string) *chain.Log {
	t.Helper()
	cfg := chain.DefaultConfig(dir)
	seed := sha256.Sum256([]byte("snapshot-test"))
	cfg.Signer = chain.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	cfg.Logger = quietLogger()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSnapshotWhileAppending asks a live log's server for checkpoints while
// appenders run, and reads each one read-only: dense, re-hashed, linked
// records; the appenders never wait on it.
func TestSnapshotWhileAppending(t *testing.T) {
	ctx := context.Background()
	dir := shortDir(t)
	l := openLog(t, dir)
	defer l.Close()
	srv, err := Listen(ctx, dir, l, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(SocketPath(dir))
	if err != nil || st.Mode()&fs.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v, %v", SocketPath(dir), st.Mode(), err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Append(ctx, chaintest.Entry(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var last uint64
	for round := range 8 {
		before := l.Durable()
		ro, cleanup, err := Open(ctx, dir, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		n := ro.Durable()
		if n < before || n < last {
			t.Errorf("round %d: snapshot holds %d events; the log had %d durable before, the previous snapshot %d", round, n, before, last)
		}
		last = n
		var prev chain.Hash
		if err := ro.Range(0, n, func(r *chain.Record) error {
			if r.Seq > 0 && r.Prev != prev {
				return fmt.Errorf("seq %d: broken link", r.Seq)
			}
			prev = r.Hash
			return r.Check()
		}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := ro.Append(ctx, chaintest.Entry(0)); !errors.Is(err, chain.ErrReadOnly) {
			t.Errorf("append to a snapshot: %v", err)
		}
		if err := cleanup(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if last == 0 || l.Durable() <= last {
		t.Errorf("ingest did not go on: last snapshot %d events, log %d", last, l.Durable())
	}
	if ents, err := os.ReadDir(SnapshotsDir(dir)); err != nil || len(ents) != 0 {
		t.Errorf("snapshots left behind: %v, %v", ents, err)
	}
	// A malformed request gets an error line, and the server goes on.
	c, err := net.Dial("unix", SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "give me everything\n")
	reply, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(reply, "error ") {
		t.Errorf("reply to a bad request: %q", reply)
	}
	if _, cleanup, err := Open(ctx, dir, quietLogger()); err != nil {
		t.Fatalf("after a bad request: %v", err)
	} else {
		cleanup()
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(SocketPath(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after Shutdown: %v", err)
	}
	if _, err := Request(ctx, dir); !errors.Is(err, ErrNoTap) {
		t.Errorf("Request after Shutdown: %v, want ErrNoTap", err)
	}
}

// TestListenSocketFile: a stale socket is replaced, a live one or a file
// that is not a socket is refused, and without a tap Open reads the data
// dir itself.
func TestListenSocketFile(t *testing.T) {
	ctx := context.Background()
	dir := shortDir(t)
	l := openLog(t, dir)
	for i := range 10 {
		if _, _, err := l.AppendWait(ctx, chaintest.Entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A stale socket: bound, never removed (a tap killed with -9).
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: SocketPath(dir), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv, err := Listen(ctx, dir, l, quietLogger())
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	if _, err := Listen(ctx, dir, l, quietLogger()); err == nil || !strings.Contains(err.Error(), "answers") {
		t.Errorf("second server on a live socket: %v", err)
	}
	snap, err := Request(ctx, dir)
	if err != nil {
		t.Fatalf("the first server stopped answering: %v", err)
	}
	os.RemoveAll(snap)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Not a socket: left alone.
	if err := os.WriteFile(SocketPath(dir), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ctx, dir, l, quietLogger()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	os.Remove(SocketPath(dir))
	// ctx ending stops the server; Shutdown still removes the socket.
	cctx, cancel := context.WithCancel(ctx)
	srv, err = Listen(cctx, dir, l, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-srv.done
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(SocketPath(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// No tap: Open reads the data dir, and holds its lock until cleanup.
	ro, cleanup, err := Open(ctx, dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if ro.Durable() != 10 {
		t.Errorf("direct read-only open: %d events, want 10", ro.Durable())
	}
	cfg := chain.DefaultConfig(dir)
	cfg.Logger = quietLogger()
	if w, err := chain.Open(ctx, cfg); err == nil {
		w.Close()
		t.Error("a tap could open the data dir while a tool read it")
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	w, err := chain.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("after cleanup: %v", err)
	}
	w.Close()
	// A data dir that is not a log is refused, naming it.
	var nle *chain.NotLogError
	if _, _, err := Open(ctx, filepath.Join(filepath.Dir(dir), "nothing"), quietLogger()); !errors.As(err, &nle) {
		t.Errorf("Open of a missing data dir: %v, want *chain.NotLogError", err)
	}
}
