package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/monitor"
)

// errMonitorFailed makes `fixtap monitor -once` exit 1 after printing its
// lines.
var errMonitorFailed = errors.New("monitor: a check failed")

// runMonitor is `fixtap monitor [flags] <replica URL>...`: an independent
// process that reads the replicas over HTTP(S) only (internal/monitor).
// Exit status with -once: 0 every check held, 1 a check failed, 2 usage or
// configuration. Without -once it runs until SIGINT/SIGTERM (exit 0),
// printing each round's lines, with -listen serving /metrics and /healthz.
func runMonitor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fixtap monitor -log-key KEY [flags] REPLICA_URL...")
		fmt.Fprintln(stderr, "  REPLICA_URL: the tlog-tiles prefix of a replica, https://bucket.s3.example/prefix/ or http://host:port/bucket/prefix/")
		fs.PrintDefaults()
	}
	logKey := fs.String("log-key", "", "the log's checkpoint note verifier key (a vkey, or a file holding one); required")
	origin := fs.String("origin", "", "the checkpoint origin line required (default: the log key's name)")
	policyFile := fs.String("witness-policy", "", "witness policy (Sigsum format) every checkpoint's cosignatures must meet")
	statePath := fs.String("state", "", "state file: the last verified checkpoint, per replica progress (default: none, in memory)")
	maxAge := fs.Duration("max-age", monitor.DefaultMaxAge, "a replica's newest checkpoint must be younger (by cosignature time, else since first seen)")
	var windows stringList
	fs.Var(&windows, "window", `trading window(s), e.g. "Mon-Fri 13:30-20:00 UTC" or "Sun-Thu 17:00-16:00 America/Chicago"; repeatable, or ";"-separated`)
	silence := fs.Duration("silence", monitor.DefaultSilence, "during a window, no FIX-derived event for longer than this is an alert")
	silenceIgnore := fs.String("silence-ignore", "", "comma-separated event types that do not count as FIX activity (e.g. HBT)")
	interval := fs.Duration("interval", monitor.DefaultInterval, "time between rounds")
	once := fs.Bool("once", false, "run one round and exit: 0 all checks held, 1 a check failed, 2 usage or config error")
	full := fs.Bool("full", false, "the first round checks every entry, tile and event of every replica from index 0")
	sweep := fs.Int("sweep", monitor.DefaultSweepBundles, "already-verified entry bundles re-checked per replica and round (negative: none)")
	listen := fs.String("listen", "", "serve /metrics and /healthz on this address (host:port) while looping")
	sigv4 := fs.Bool("sigv4", false, "sign the GETs with AWS SigV4 using AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (private buckets)")
	if err := fs.Parse(reorderMonitorFlags(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{"monitor: " + err.Error()}
	}
	usage := func(format string, a ...any) error { return &usageError{fmt.Sprintf("monitor: "+format, a...)} }
	if fs.NArg() == 0 {
		return usage("want at least one replica URL")
	}
	if *logKey == "" {
		return usage("-log-key is required")
	}
	vkey := *logKey
	if b, err := os.ReadFile(vkey); err == nil {
		vkey = strings.TrimSpace(string(b))
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return usage("-log-key: %v", err)
	}
	cfg := monitor.Config{
		Replicas: fs.Args(), LogKey: verifier, Origin: *origin, StatePath: *statePath,
		MaxAge: *maxAge, Silence: *silence, Interval: *interval, Full: *full, SweepBundles: *sweep,
		Now:    clock.Wall,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if *sweep == 0 {
		cfg.SweepBundles = -1
	}
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			return usage("-witness-policy: %v", err)
		}
		if cfg.Policy, err = cosign.ParsePolicy(*policyFile, b); err != nil {
			return usage("-witness-policy: %v", err)
		}
	}
	for _, w := range windows {
		ws, err := monitor.ParseWindows(w)
		if err != nil {
			return usage("-window: %v", err)
		}
		cfg.Windows = append(cfg.Windows, ws...)
	}
	if *silenceIgnore != "" {
		cfg.SilenceIgnore = strings.Split(*silenceIgnore, ",")
	}
	if *sigv4 {
		if cfg.SigV4, err = monitor.SigV4FromEnv(os.Getenv); err != nil {
			return usage("-sigv4: %v", err)
		}
	}
	if *once && *listen != "" {
		return usage("-listen serves metrics while looping; not with -once")
	}
	m, err := monitor.New(cfg)
	if err != nil {
		if errors.Is(err, monitor.ErrConfig) || errors.Is(err, monitor.ErrState) {
			return &usageError{err.Error()}
		}
		return err
	}
	cfg.Logger.Info("monitor: starting", "config", cfg)
	emit := func(r *monitor.Report) {
		if r != nil {
			fmt.Fprint(stdout, r.String())
		}
	}

	if *once {
		rep, err := m.Round(ctx)
		emit(rep)
		if err != nil {
			return err
		}
		if !rep.OK() {
			return errMonitorFailed
		}
		return nil
	}

	var srv *http.Server
	served := make(chan error, 1)
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return usage("-listen: %v", err)
		}
		srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { served <- srv.Serve(ln) }()
		cfg.Logger.Info("monitor: serving /metrics and /healthz", "addr", ln.Addr().String())
	}
	m.Start(ctx, func(r *monitor.Report, err error) {
		emit(r)
		if err != nil {
			cfg.Logger.Error("monitor: round", "err", err)
		}
	})
	<-ctx.Done()
	// Shutdown order: the rounds first (the last state file is written by
	// the last completed round), then the metrics endpoint.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = m.Shutdown(sctx)
	if srv != nil {
		if serr := srv.Shutdown(sctx); serr != nil && err == nil {
			err = serr
		}
		if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	return err
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "; ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// reorderMonitorFlags moves flags before the replica URLs, so that
// `fixtap monitor URL... -once` works: a flag takes the next argument as
// its value unless it is a boolean flag or written -flag=value.
func reorderMonitorFlags(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, rest...)
}
