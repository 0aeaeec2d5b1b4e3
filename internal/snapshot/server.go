// Package snapshot gives tools (export, show, proof) a read-only view of a
// tap's data dir, also while `fixtap run` holds it.
//
// Pebble takes an exclusive LOCK even with Options.ReadOnly, so a second
// process cannot open the DB of a running tap. The tap therefore answers
// on a unix socket, SocketPath(dataDir) = <DataDir>/admin.sock (mode
// 0600), one request per connection: it makes a Pebble checkpoint
// (DB.Checkpoint: hard links of the sstables and blob files, copies of the
// WAL and MANIFEST; cheap, and ingest goes on) into a fresh directory under
// SnapshotsDir(dataDir) = <DataDir>/snapshots/, and replies with its path.
// Open asks for one and opens it read-only (chain.Config.ReadOnly); its
// cleanup deletes the checkpoint. When no tap answers, Open opens the data
// dir itself read-only, and Pebble's lock then keeps a tap from starting on
// it until the cleanup runs.
//
// The protocol, one line each way (at most maxLine bytes):
//
//	request:  "fixtap-admin/1 checkpoint\n"
//	reply:    "ok <absolute path of the checkpoint dir>\n"
//	          "error <message>\n"
package snapshot

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
)

const (
	protocol       = "fixtap-admin/1"
	requestLine    = protocol + " checkpoint\n"
	maxLine        = 4096
	requestTimeout = 30 * time.Second
	// maxSocketPath is the portable limit of a unix socket path
	// (sun_path is 104 bytes on the BSDs, 108 on Linux, NUL included).
	maxSocketPath = 103
)

// SocketPath is where a running tap answers for its data dir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, "admin.sock") }

// SnapshotsDir is where the tap makes checkpoints: inside the data dir,
// so on the same file system (Pebble hard-links its files there). Pebble
// ignores names it did not write, as it does checkpoint.skey beside it.
func SnapshotsDir(dataDir string) string { return filepath.Join(dataDir, "snapshots") }

// A Server answers checkpoint requests for a running tap's log.
//
// Lifecycle: Listen starts one goroutine, which accepts and serves one
// connection at a time (a request never runs beside another, and never on
// an ingest goroutine), each within requestTimeout. It stops when ctx ends
// or at Shutdown. Shutdown must come before the chain.Log's Close: a
// checkpoint in progress reads the log's Pebble DB, and Shutdown waits for
// it.
type Server struct {
	log     *chain.Log
	path    string
	snaps   string
	ln      *net.UnixListener
	inode   os.FileInfo // the socket file we made; removed only if still ours
	logger  *slog.Logger
	stop    func() bool // unregisters the ctx hook
	mu      sync.Mutex
	conn    net.Conn // the connection being served, closed by an expired Shutdown
	closing bool
	done    chan struct{}
}

// Listen makes the admin socket of dataDir for l and starts serving it. A
// socket file left by a tap that died is replaced; a file that is not a
// socket, or a socket something answers on, is refused.
func Listen(ctx context.Context, dataDir string, l *chain.Log, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	path, err := filepath.Abs(SocketPath(dataDir))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("snapshot: socket path %s is %d bytes, longer than a unix socket allows (%d)", path, len(path), maxSocketPath)
	}
	snaps, err := filepath.Abs(SnapshotsDir(dataDir))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := os.MkdirAll(snaps, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, fi, err := listen(path)
	if err != nil {
		return nil, err
	}
	s := &Server{log: l, path: path, snaps: snaps, ln: ln, inode: fi, logger: logger.With("component", "snapshot"), done: make(chan struct{})}
	s.stop = context.AfterFunc(ctx, func() { ln.Close() })
	go s.serve()
	return s, nil
}

// removeStale removes a socket file at path that nothing answers on.
func removeStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if st.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("snapshot: %s exists and is not a socket; not replacing it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("snapshot: another process answers on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("snapshot: probe %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: remove stale socket: %w", err)
	}
	return nil
}

// listen binds the socket in a private (0700) temporary directory, sets
// its mode to 0600 and only then renames it into place, so that it is
// never reachable with a wider mode.
func listen(path string) (*net.UnixListener, os.FileInfo, error) {
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".admin-")
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Shutdown removes the renamed file
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, nil, fmt.Errorf("snapshot: listen: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(tmp)
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return ln, fi, nil
}

func (s *Server) serve() {
	defer close(s.done)
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: wait, do not spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("snapshot: accept", "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conn = c
		s.mu.Unlock()
		s.handle(c)
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
		c.Close()
	}
}

// handle serves one request.
func (s *Server) handle(c net.Conn) {
	_ = c.SetDeadline(clock.Wall().Add(requestTimeout))
	line, err := bufio.NewReaderSize(c, 64).ReadString('\n')
	if err != nil || line != requestLine {
		s.logger.Warn("snapshot: bad request", "request", truncate(line), "err", err)
		fmt.Fprintf(c, "error want %q\n", strings.TrimSpace(requestLine))
		return
	}
	dir, err := s.checkpoint()
	if err != nil {
		s.logger.Error("snapshot: checkpoint", "err", err)
		fmt.Fprintf(c, "error %s\n", oneLine(err.Error()))
		return
	}
	if _, err := fmt.Fprintf(c, "ok %s\n", dir); err != nil {
		// Nobody will open or delete it.
		s.logger.Warn("snapshot: reply", "err", err, "dir", dir)
		os.RemoveAll(dir)
		return
	}
	s.logger.Info("snapshot: checkpoint made", "dir", dir, "log_size", s.log.Durable())
}

// checkpoint makes a Pebble checkpoint of the log's DB in a fresh
// directory under the snapshots dir.
//
// The checkpoint holds whatever Pebble has applied, which may include
// events written to the WAL but not yet fsync'd (durable watermark below
// them), and signatures may lag behind events. That is fine: tools read
// only below the newest checkpoint in it, and the sealer cuts a checkpoint
// only over events below the durable watermark and stores it with Sync,
// after them in the one WAL.
func (s *Server) checkpoint() (string, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	name := strconv.FormatInt(clock.Wall().UTC().UnixNano(), 10) + "-" + hex.EncodeToString(rnd[:])
	dir := filepath.Join(s.snaps, name)
	if err := s.log.DB().Checkpoint(dir); err != nil {
		return "", fmt.Errorf("snapshot: checkpoint %s: %w", dir, err)
	}
	return dir, nil
}

// Shutdown stops accepting, waits for the request in progress and removes
// the socket file. If ctx ends first, the connection in progress is closed
// and Shutdown still waits for its checkpoint to finish, so the chain.Log
// may be closed as soon as it returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return errors.New("snapshot: server already shut down")
	}
	s.closing = true
	s.mu.Unlock()
	s.stop()
	s.ln.Close()
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		<-s.done
		err = fmt.Errorf("snapshot: shutdown: %w", ctx.Err())
	}
	if st, serr := os.Lstat(s.path); serr == nil && os.SameFile(st, s.inode) {
		if rerr := os.Remove(s.path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("snapshot: remove socket: %w", rerr))
		}
	}
	return err
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
