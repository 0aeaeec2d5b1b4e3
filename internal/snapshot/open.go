package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
)

// ErrNoTap is wrapped by Request when no tap answers on the data dir's
// socket: there is no socket file, or nothing listens on it.
var ErrNoTap = errors.New("snapshot: no tap answers")

// Request asks the tap running on dataDir for a checkpoint and returns its
// directory, which the caller must delete (os.RemoveAll) when done. It
// fails with an error wrapping ErrNoTap when no tap answers.
func Request(ctx context.Context, dataDir string) (string, error) {
	path, err := filepath.Abs(SocketPath(dataDir))
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	snaps, err := filepath.Abs(SnapshotsDir(dataDir))
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return "", fmt.Errorf("%w on %s: %w", ErrNoTap, path, err)
	}
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	defer c.Close()
	deadline := clock.Wall().Add(requestTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := io.WriteString(c, requestLine); err != nil {
		return "", fmt.Errorf("snapshot: request to %s: %w", path, err)
	}
	line, err := bufio.NewReader(io.LimitReader(c, maxLine)).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", fmt.Errorf("snapshot: reply from %s: %w", path, err)
	}
	line = strings.TrimSuffix(line, "\n")
	switch {
	case strings.HasPrefix(line, "ok "):
	case strings.HasPrefix(line, "error "):
		return "", fmt.Errorf("snapshot: the tap could not make a checkpoint: %s", strings.TrimPrefix(line, "error "))
	default:
		return "", fmt.Errorf("snapshot: reply from %s: malformed %q", path, line)
	}
	dir := strings.TrimPrefix(line, "ok ")
	// Only ever open (and later delete) a fresh directory under the data
	// dir's snapshots dir.
	if !filepath.IsAbs(dir) || filepath.Dir(dir) != snaps || filepath.Clean(dir) != dir {
		return "", fmt.Errorf("snapshot: reply from %s: checkpoint %q is not in %s", path, dir, snaps)
	}
	return dir, nil
}

// Open opens the log of dataDir read-only (chain.Config.ReadOnly) for a
// tool. If a tap runs on dataDir, it reads a checkpoint the tap made
// (Request), and cleanup closes the log and deletes the checkpoint. If no
// tap answers, it opens dataDir itself, and cleanup closes it; meanwhile
// Pebble's lock keeps a tap from starting on dataDir. logger receives
// Pebble's messages (nil: slog.Default()).
//
// What the log returns past the newest sealed checkpoint in it may include
// events that were not yet fsync'd when the checkpoint was made: read
// below the newest checkpoint's size (seal.OpenReader on the log).
func Open(ctx context.Context, dataDir string, logger *slog.Logger) (l *chain.Log, cleanup func() error, err error) {
	dir, err := Request(ctx, dataDir)
	if errors.Is(err, ErrNoTap) {
		l, err := chain.OpenReadOnly(ctx, dataDir, logger)
		if err != nil {
			return nil, nil, err
		}
		return l, l.Close, nil
	}
	if err != nil {
		return nil, nil, err
	}
	l, err = chain.OpenReadOnly(ctx, dir, logger)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return l, func() error {
		err := l.Close()
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("snapshot: remove checkpoint: %w", rerr))
		}
		return err
	}, nil
}
