package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/metrics"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/xref"
)

// logFile is the JSON log's destination when LogFile is set: a file
// appended to, reopened on SIGHUP so that logrotate can move it away
// (rotate, then `kill -HUP`; no copytruncate needed). Writes and Reopen
// take one mutex; slog's handler already serializes its writes, one Write
// per record, so records never interleave or straddle two files.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("run: log file: %w", err)
	}
	return &logFile{path: path, f: f}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path anew and switches to it; on failure the old file
// stays in use and the error is returned.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("run: reopen log file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// openLogs makes run's logger: JSON to the file named by LogFile, or to
// stderr when it is unset (lf is then nil).
func openLogs(t *tapconfig.TapSettings, stderr io.Writer) (logger *slog.Logger, lf *logFile, err error) {
	if t.LogFile == "" {
		return slog.New(slog.NewJSONHandler(stderr, nil)), nil, nil
	}
	if lf, err = openLogFile(t.LogFile); err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewJSONHandler(lf, nil)), lf, nil
}

// reopenOnHUP reopens lf on every value from hup (SIGHUP, from
// signal.Notify) until stop is called; the sessions are not touched. With
// no log file a SIGHUP is only logged (it must still be caught: its
// default action ends the process).
func reopenOnHUP(hup <-chan os.Signal, lf *logFile, logger *slog.Logger) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-hup:
				if lf == nil {
					logger.Info("SIGHUP: logging to stderr, nothing to reopen")
					continue
				}
				if err := lf.Reopen(); err != nil {
					logger.Error("SIGHUP: log file not reopened; still writing the old one", "err", err)
					continue
				}
				logger.Info("SIGHUP: log file reopened", "path", lf.path)
			}
		}
	}()
	return func() { close(quit); <-done }
}

// startMetrics makes the monitoring endpoint (internal/metrics) and, when
// MetricsAddress is set, listens on it. Like the admin socket, a listener
// that cannot start is logged, not fatal: the tap records without it (and
// /readyz, unreachable, says so to the monitoring).
func startMetrics(f *tapconfig.File, tp *tap.Tap, log *chain.Log, clk *clock.Clock, ss *metrics.SealState, xr *xref.Reconciler, sealed *sealParts, logger *slog.Logger) *metrics.Server {
	mc := metrics.Config{Tap: tp, Log: log, Clock: clk, Seal: ss, Now: clock.Wall, Logger: logger,
		Replicator: sealed.rep, Cosigner: sealed.cos}
	if xr != nil { // a nil *Reconciler in the interface would not be nil
		mc.XRef = xr
	}
	m := metrics.New(mc)
	if addr := f.Tap.MetricsAddress; addr != "" {
		if err := m.Listen(addr); err != nil {
			logger.Error("no metrics listener", "err", err)
		} else {
			logger.Info("metrics listening", "addr", m.Addr().String())
		}
	}
	return m
}

// stopMetrics stops the monitoring endpoint, last in serve's shutdown.
func stopMetrics(m *metrics.Server, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		logger.Error("metrics shutdown", "err", err)
	}
}
