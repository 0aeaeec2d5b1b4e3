package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/fixtap/fixtap/internal/chain"
)

// systemd integration (sd_notify(3), Type=notify in systemd/fixtap.service).
//
// serve tells the service manager READY=1 once the sessions are up,
// STOPPING=1 when shutdown begins, and STATUS= lines a person reads in
// `systemctl status fixtap`. Without NOTIFY_SOCKET (not under systemd, or
// Type= other than notify) every notice is a no-op.
//
// The watchdog (WatchdogSec= in the unit, WATCHDOG_USEC for the process)
// pings only while the log is healthy, so that a failed or wedged log gets
// the process killed and restarted instead of leaving counterparties
// connected to a tap that records nothing:
//
//   - healthy means chain.Log.Err() is nil and a Sync barrier — an empty
//     write that passes through the committer and is acknowledged after the
//     next fsync — completes within half the interval. A committer that
//     has died or is stuck, or an fsync that hangs, fails the probe.
//   - the probe runs every half interval; a failed probe sends no ping and
//     a STATUS= line saying why. systemd kills the process (SIGABRT, which
//     makes the Go runtime print every goroutine to the journal) once no
//     ping arrived for WatchdogSec, and Restart=on-failure starts it again;
//     the no-loss rule makes that safe (the counterparty resends).
//   - the watchdog runs until just before the log closes, so a slow but
//     healthy shutdown is not killed by it.

// sdNotify sends state to the service manager, if there is one. A failure
// to notify is logged, never fatal: the tap records either way.
func sdNotify(logger *slog.Logger, state ...string) {
	if _, err := daemon.SdNotify(false, strings.Join(state, "\n")); err != nil {
		logger.Warn("sd_notify", "state", state, "err", err)
	}
}

// notifyReady tells systemd the sessions are up.
func notifyReady(logger *slog.Logger, sessions int, logSize uint64) {
	sdNotify(logger, daemon.SdNotifyReady, fmt.Sprintf("STATUS=recording %d sessions; the log holds %d events", sessions, logSize))
}

// notifyStopping tells systemd shutdown has begun.
func notifyStopping(logger *slog.Logger) {
	sdNotify(logger, daemon.SdNotifyStopping, "STATUS=stopping: logging out sessions, cutting the final checkpoint")
}

// startWatchdog starts pinging the systemd watchdog when WATCHDOG_USEC is
// set for this process, and returns a stop function that waits for the
// pinger to end. Without a watchdog it starts nothing.
func startWatchdog(log *chain.Log, logger *slog.Logger) (stop func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		logger.Warn("systemd watchdog: bad WATCHDOG_USEC/WATCHDOG_PID; not pinging", "err", err)
		return func() {}
	}
	if interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchdog(ctx, log, logger, interval/2)
	}()
	logger.Info("systemd watchdog", "interval", interval, "ping_every", interval/2)
	return func() { cancel(); wg.Wait() }
}

// watchdog pings every period while logHealthy holds, until ctx ends.
func watchdog(ctx context.Context, log *chain.Log, logger *slog.Logger, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	healthy := true
	for {
		err := logHealthy(ctx, log, period)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			sdNotify(logger, daemon.SdNotifyWatchdog)
			if !healthy {
				logger.Info("systemd watchdog: the log is healthy again; pinging")
				sdNotify(logger, fmt.Sprintf("STATUS=recording; the log holds %d events", log.Durable()))
			}
			healthy = true
		case healthy:
			logger.Error("systemd watchdog: the log is not healthy; not pinging (systemd will restart the tap)", "err", err)
			sdNotify(logger, "STATUS=log unhealthy, watchdog not pinged: "+err.Error())
			healthy = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logHealthy reports why the log is not healthy, or nil: it has not
// stopped, and a Sync barrier through its committer completes within
// timeout.
func logHealthy(ctx context.Context, log *chain.Log, timeout time.Duration) error {
	if err := log.Err(); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := log.Sync(sctx); err != nil {
		return fmt.Errorf("sync barrier: %w", err)
	}
	return nil
}
