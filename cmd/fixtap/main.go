// Command fixtap is a FIX drop-copy tap that records every inbound message
// as a signed, hash-chained VCP v1.1 audit event.
//
// Usage:
//
//	fixtap demo                         the whole pipeline on this machine, embedded defaults
//	fixtap run -config FILE [-check]    run the tap's FIX sessions (under systemd: Type=notify)
//	fixtap keygen -out FILE             a new Ed25519 event-signing key (mode 0600)
//	fixtap export -config FILE -o OUT   an evidence bundle (all, -seq, -from/-to, -session, -order)
//	fixtap verify BUNDLE                check a bundle offline; exit 0 only if everything holds
//	fixtap proof -config FILE -o OUT ID a one-event proof bundle
//	fixtap show / query -config FILE    an event, an order's lifecycle, a session's newest events
//	fixtap loadgen -addr HOST:PORT      a drop-copy sender for trials and benchmarks
//
// `fixtap` alone lists the subcommands; README.md and docs/ say the rest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	// SIGHUP reopens the log file once `run` has loaded its config
	// (observe.go); until then, and for every other subcommand, it must
	// not end the process (`systemctl reload` during start-up).
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
		os.Exit(exitOK)
	case errors.Is(err, flag.ErrHelp), errors.As(err, new(*usageError)):
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fixtap:", err)
		}
		os.Exit(exitUsage)
	default:
		fmt.Fprintln(os.Stderr, "fixtap:", err)
		os.Exit(exitFailure)
	}
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"run", "run the tap: the FIX sessions of a QuickFIX-format session file (-config FILE; -check validates and exits)", runRun},
	{"demo", "show the whole pipeline on this machine with embedded defaults (a sender, a local TSA, a temporary data dir)", runDemo},
	{"keygen", "write a new Ed25519 event-signing key file (mode 0600) and print its public key and KeyID", runKeygen},
	{"export", "write an evidence bundle (the whole log, a seq or time range, a session or an order) for offline verification", runExport},
	{"verify", "verify an evidence bundle offline: every event, the tree, checkpoints, anchors, completeness (exit 0 only if all holds)", runVerify},
	{"proof", "write a standalone proof bundle for one event (by EventID or log seq)", runProof},
	{"show", "print one event (by EventID or log seq) with its standing: signature, sealed, anchored (-json)", runShow},
	{"query", "list an order's lifecycle, a session's newest events or a time range, as a table or JSON Lines", runQuery},
	{"loadgen", "send a drop-copy stream to a tap (tests, trials, benchmarks)", runLoadgen},
	{"monitor", "watch the log's replicas over HTTP(S): signatures, consistency, agreement, data, cadence, FIX silence (-once: exit 0/1/2)", runMonitor},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return &usageError{"no subcommand"}
		}
		return flag.ErrHelp
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return &usageError{fmt.Sprintf("unknown subcommand %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: fixtap <subcommand> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
