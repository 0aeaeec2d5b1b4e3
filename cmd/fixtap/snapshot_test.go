package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/snapshot"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// TestRunSnapshots reads a running tap's data as export does, while a
// drop copy streams into it: a checkpoint through the admin socket (which
// replaced a stale socket file on start), opened read-only, every record
// below the newest checkpoint re-hashed, and the stored tree reproducing
// that checkpoint's root. Ingest goes on meanwhile, and a clean shutdown
// removes the socket.
func TestRunSnapshots(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port)
	f, err := tapconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := f.Tap.DataDir
	sock := snapshot.SocketPath(dataDir)
	// A tap killed with -9 left its socket behind.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	ready := make(chan struct{})
	go func() {
		done <- serve(ctx, f, slog.New(slog.NewJSONHandler(&errb, nil)), &out, serveOptions{Ready: ready})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	const count = 20000
	lg := make(chan error, 1)
	var st loadgen.Stats
	go func() {
		var err error
		st, err = loadgen.Run(context.Background(), loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port),
			BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP", Count: count, Rate: 5000,
			ResetSeqNum: true, Seed: 11, Now: clock.Wall})
		lg <- err
	}()

	key, err := seal.LoadKeyFile(checkpointKeyFile(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var sizes []uint64
	streaming := true
	for streaming || len(sizes) < 3 {
		select {
		case err := <-lg:
			if err != nil {
				t.Fatalf("loadgen: %v\n%s", err, errb.String())
			}
			streaming = false
		default:
		}
		size, ok := readSnapshot(t, dataDir, origin(f), key.Verifier, quiet)
		if ok {
			sizes = append(sizes, size)
		}
		if len(sizes) > 200 {
			t.Fatal("the tap never stopped streaming")
		}
		time.Sleep(150 * time.Millisecond)
	}
	if st.Sent != count {
		t.Fatalf("loadgen sent %d of %d", st.Sent, count)
	}
	// The snapshots followed ingest: the checkpoints they held grew.
	if len(sizes) < 3 || sizes[len(sizes)-1] <= sizes[0] {
		t.Errorf("newest checkpoint sizes seen in snapshots: %v; want growth while loadgen streamed", sizes)
	}
	t.Logf("checkpoint sizes seen in %d snapshots: %v", len(sizes), sizes)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("admin socket left after a clean shutdown: %v", err)
	}
	if ents, err := os.ReadDir(snapshot.SnapshotsDir(dataDir)); err != nil || len(ents) != 0 {
		t.Errorf("snapshots left behind: %v, %v", ents, err)
	}
	// The tap is down: a tool opens the data dir itself, and sees every
	// message loadgen sent under the final checkpoint.
	ro, cleanup, err := snapshot.Open(context.Background(), dataDir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	r, err := seal.OpenReader(ro, origin(f), key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Latest()
	if err != nil || c.Size != ro.Durable() {
		t.Fatalf("final checkpoint %v (%v); the log holds %d", c, err, ro.Durable())
	}
	var app int
	if err := ro.Range(0, c.Size, func(rec *chain.Record) error {
		if bytes.Contains(rec.Payload, []byte(`"MsgType":"8"`)) {
			app++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if app == 0 || !strings.Contains(errb.String(), "snapshot: checkpoint made") {
		t.Errorf("%d execution reports under the final checkpoint; tap log mentions no snapshot", app)
	}
}

// readSnapshot opens one snapshot of the running tap and checks it as
// export would; ok is false while no checkpoint is stored yet.
func readSnapshot(t *testing.T, dataDir, origin string, v note.Verifier, logger *slog.Logger) (uint64, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ro, cleanup, err := snapshot.Open(ctx, dataDir, logger)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer func() {
		if err := cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}()
	r, err := seal.OpenReader(ro, origin, v)
	if err != nil {
		t.Fatalf("seal reader on a snapshot: %v", err)
	}
	c, err := r.Latest()
	if errors.Is(err, seal.ErrNoCheckpoint) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.Size > ro.Durable() {
		t.Fatalf("checkpoint %d beyond the snapshot's log (%d)", c.Size, ro.Durable())
	}
	var last *chain.Record
	var prev chain.Hash
	if err := ro.Range(0, c.Size, func(rec *chain.Record) error {
		if rec.Seq > 0 && rec.Prev != prev {
			return fmt.Errorf("seq %d: PrevHash is not the previous EventHash", rec.Seq)
		}
		prev = rec.Hash
		last = rec
		return rec.Check()
	}); err != nil {
		t.Fatalf("snapshot records below checkpoint %d: %v", c.Size, err)
	}
	root, err := r.TreeHash(c.Size)
	if err != nil || root != c.Root {
		t.Fatalf("TreeHash(%d) = %s, %v; the checkpoint says %s", c.Size, root, err, c.Root)
	}
	p, err := r.InclusionProof(last.Seq, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(p, int64(c.Size), c.Root, int64(last.Seq), seal.LeafHash(last.Hash)); err != nil {
		t.Fatalf("event %d in checkpoint %d: %v", last.Seq, c.Size, err)
	}
	return c.Size, true
}
