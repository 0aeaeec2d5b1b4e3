package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/fixmap"
	"github.com/fixtap/fixtap/internal/gcfloor"
	"github.com/fixtap/fixtap/internal/index"
	"github.com/fixtap/fixtap/internal/metrics"
	"github.com/fixtap/fixtap/internal/snapshot"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// exitStorage is the exit status when storage fails under the log: the
// process stops rather than acknowledge anything it could not make durable.
const exitStorage = 70

// runRun is `fixtap run -config FILE [-check]`.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "QuickFIX-format session file (see config/fixtap.cfg)")
	check := fs.Bool("check", false, "validate the session file and its referenced files, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() != 0 {
		fs.Usage()
		return &usageError{"run: -config FILE is required"}
	}
	f, err := tapconfig.Load(*path)
	if err != nil {
		return configError(stderr, err)
	}
	var acc, ini int
	for _, s := range f.Sessions {
		if strings.EqualFold(s.ConnectionType, "acceptor") {
			acc++
		} else {
			ini++
		}
	}
	if err := checkStartup(f); err != nil { // check.go
		return err
	}
	if *check {
		fmt.Fprintf(stdout, "%s: ok: %d sessions (%d acceptor, %d initiator)\n", *path, len(f.Sessions), acc, ini)
		return nil
	}
	logger, logs, err := openLogs(&f.Tap, stderr) // observe.go: JSON, to LogFile or stderr
	if err != nil {
		return err
	}
	if logs != nil {
		defer logs.Close()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // reopen the log file (logrotate); the sessions stay up
	defer signal.Stop(hup)
	defer reopenOnHUP(hup, logs, logger)()
	return serve(ctx, f, logger, stdout, serveOptions{})
}

// serveOptions are what `fixtap demo` changes about serve.
type serveOptions struct {
	// AnchorEvery, if set, replaces the tier's anchoring cadence.
	AnchorEvery time.Duration
	// Ready, if set, is closed once the sessions are up.
	Ready chan struct{}
}

// configError prints every refusal, one a line, and returns a short error.
func configError(w io.Writer, err error) error {
	errs := tapconfig.Errors(err)
	if len(errs) == 0 {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	return fmt.Errorf("%d problems in the session file", len(errs))
}

// serve runs the tap until ctx ends. Shutdown order: /readyz turns
// not-ready, stop the admin socket
// (waiting for a snapshot in progress, which reads the log's DB), stop the
// quickfix acceptors and initiators (sessions log out), stop the
// reconciler (it catches up with the log, appending the last outcomes, and
// saves its state), stop the clock (no more SNC
// events), stop anchoring and cut a final checkpoint over every durable
// event, close the tap (releasing any callback blocked on storage), stop the
// indexer (it resumes from its watermark next time), close the log
// (drain, final fsync), and last stop the metrics listener, which serves
// the final numbers until then.
func serve(ctx context.Context, f *tapconfig.File, logger *slog.Logger, stdout io.Writer, opts serveOptions) error {
	defer startHeapFloor(logger)()
	priv, err := chain.LoadPrivateKeyFile(f.Tap.SigningKeyFile)
	if err != nil {
		return err
	}
	mc := fixmap.DefaultConfig()
	mc.PseudonymizeAccounts = f.Tap.PseudonymizeAccounts
	if mc.PseudonymizeAccounts {
		if mc.AccountSecret, err = os.ReadFile(f.Tap.AccountSecretFile); err != nil {
			return fmt.Errorf("run: account secret: %w", err)
		}
	}
	lc := chain.DefaultConfig(f.Tap.DataDir)
	lc.Durability = f.Tap.Durability
	lc.SyncInterval = f.Tap.DurabilityInterval
	lc.Signer = chain.NewSigner(priv)
	lc.Logger = logger
	lc.Now = clock.Wall // times group commits for the metrics
	lc.Fatal = func(err error) {
		logger.Error("storage failed; stopping so that nothing unrecorded is acknowledged", "err", err)
		sdNotify(logger, "STATUS=storage failed, exiting: "+err.Error())
		os.Exit(exitStorage)
	}
	log, err := chain.Open(ctx, lc)
	if err != nil {
		return err
	}
	clk, clockEv, err := openClock(ctx, f, logger)
	if err != nil {
		log.Close()
		return err
	}
	closeClock := func() { clk.Close() }
	policy := func(id, issuer, uri string) chain.PolicyIdentification {
		return chain.PolicyIdentification{Version: chain.VCPVersion, PolicyID: id, ConformanceTier: f.Tap.Tier,
			RegistrationPolicy: chain.RegistrationPolicy{Issuer: issuer, PolicyURI: uri},
			VerificationDepth:  chain.VerificationDepth{HashChainValidation: true, MerkleProofRequired: true, ExternalAnchorRequired: true}}
	}
	tc := tap.Config{Log: log, Clock: clockAdapter{clk}, Mapper: mc, VenueID: f.Tap.VenueID, Logger: logger,
		Policy:   policy(f.Tap.PolicyID, f.Tap.PolicyIssuer, f.Tap.PolicyURI),
		Sessions: map[quickfix.SessionID]tap.SessionConfig{}}
	for _, s := range f.Sessions {
		tc.Sessions[s.ID] = tap.SessionConfig{VenueID: s.VenueID, Policy: policy(s.PolicyID, s.PolicyIssuer, s.PolicyURI)}
		if len(s.Deviations) > 0 {
			logger.Warn("session deviates from the tap's safe defaults", "session", s.ID.String(), "settings", s.Deviations)
		}
	}
	tp, err := tap.New(tc)
	if err != nil {
		closeClock()
		log.Close()
		return err
	}
	clockEv.attach(tp)
	sealState := metrics.NewSealState(clock.Wall)
	stopSeal, sealed, err := startSeal(ctx, f, log, lc.Signer, tp, sealState, logger, opts.AnchorEvery)
	if err != nil {
		tp.Close()
		closeClock()
		log.Close()
		return err
	}
	var stops []func()
	for _, kind := range []string{"acceptor", "initiator"} {
		qs, err := f.QuickfixSettings(kind)
		if errors.Is(err, tapconfig.ErrNoSessions) {
			continue
		}
		if err == nil {
			var stop func()
			if stop, err = startQuickfix(kind, tp, qs); err == nil {
				stops = append(stops, stop) // nil when it failed to start
			}
		}
		if err != nil {
			for _, stop := range stops {
				stop()
			}
			stopSeal()
			tp.Close()
			closeClock()
			log.Close()
			return fmt.Errorf("run: %s: %w", kind, err)
		}
	}
	// The lookup indexes are built behind the log (internal/index); started
	// once the sessions are up, so a catch-up after a restart never delays
	// them. Without it lookups scan the log instead.
	ixc := index.DefaultConfig()
	ixc.Logger = logger
	ix, err := index.New(ctx, log, ixc)
	if err != nil {
		logger.Error("no indexer: lookups will scan the log", "err", err)
	}
	// VCP-XREF reconciliation, behind the log too (xref.go).
	xr, stopXRef := startXRef(ctx, f, log, clockAdapter{clk}, policy(f.Tap.PolicyID, f.Tap.PolicyIssuer, f.Tap.PolicyURI), logger)
	// Tools read the running tap's data through checkpoints made on this
	// socket (internal/snapshot). Without it the tap still records.
	admin, err := snapshot.Listen(ctx, f.Tap.DataDir, log, logger)
	if err != nil {
		logger.Error("no admin socket: tools cannot read this tap's data while it runs", "err", err)
	}
	mon := startMetrics(f, tp, log, clk, sealState, xr, sealed, logger) // observe.go: MetricsAddress
	mon.SetReady(true)
	logger.Info("fixtap running", "config", f, "log_size", log.Durable())
	fmt.Fprintf(stdout, "fixtap: %d sessions up; log at %s holds %d events\n", len(f.Sessions), f.Tap.DataDir, log.Durable())
	if opts.Ready != nil {
		close(opts.Ready)
	}
	notifyReady(logger, len(f.Sessions), log.Durable()) // systemd: notify.go
	stopWatchdog := startWatchdog(log, logger)
	<-ctx.Done()
	mon.SetReady(false)
	notifyStopping(logger)
	if admin != nil {
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := admin.Shutdown(actx); err != nil {
			logger.Error("admin socket shutdown", "err", err)
		}
		cancel()
	}
	logger.Info("stopping: logging out sessions")
	for _, stop := range stops {
		stop()
	}
	// The reconciler catches up with what the sessions logged, appends
	// the outcomes and saves its state: before the final checkpoint, so
	// that it covers them.
	stopXRef()
	closeClock() // no more SNC events
	if err := log.Sync(context.Background()); err != nil {
		logger.Error("final sync", "err", err)
	}
	stopSeal() // the final checkpoint covers every event
	tp.Close()
	if ix != nil {
		ictx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := ix.Shutdown(ictx); err != nil {
			logger.Error("indexer shutdown", "err", err)
		}
		cancel()
	}
	stopWatchdog() // it probes the log: stop it before the log closes
	err = log.Close()
	stopMetrics(mon, logger)
	logger.Info("stopped", "err", err)
	return err
}

// startHeapFloor keeps the Go collector from running before the heap holds
// 64 MiB (internal/gcfloor: fewer GC cycles under the per-message path, about
// 64 MiB more RSS) until the returned stop is called — through the shutdown
// too, so not bound to serve's context. GOGC in the environment turns it
// off.
func startHeapFloor(logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		switch err := gcfloor.Run(ctx, gcfloor.DefaultConfig(), os.Getenv); {
		case errors.Is(err, gcfloor.ErrOperatorGOGC):
			logger.Info("GOGC is set in the environment: no heap floor", "GOGC", os.Getenv("GOGC"))
		case errors.Is(err, gcfloor.ErrRunning):
			logger.Info("heap floor already running in this process") // a second serve (tests)
		case err != nil:
			logger.Error("heap floor", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

func startQuickfix(kind string, tp *tap.Tap, qs *quickfix.Settings) (func(), error) {
	if kind == "acceptor" {
		a, err := quickfix.NewAcceptor(tp, tp.Stores(), qs, tp.Logs())
		if err != nil {
			return nil, err
		}
		if err := a.Start(); err != nil {
			unregister(qs)
			return nil, err
		}
		return a.Stop, nil
	}
	i, err := quickfix.NewInitiator(tp, tp.Stores(), qs, tp.Logs())
	if err != nil {
		return nil, err
	}
	if err := i.Start(); err != nil {
		unregister(qs)
		return nil, err
	}
	return i.Stop, nil
}

// unregister removes the sessions of qs from quickfixgo's process-wide
// registry after a failed Start (a port in use): Stop cannot be called
// then, and a registered SessionID makes every later acceptor or initiator
// with it fail ("Duplicate SessionID"), as a second serve in one process
// (tests, the demo) would.
func unregister(qs *quickfix.Settings) {
	for id := range qs.SessionSettings() {
		_ = quickfix.UnregisterSession(id)
	}
}
