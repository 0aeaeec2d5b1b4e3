// Command fixtap-bench measures fixtap against plain quickfixgo acceptors on
// this machine, side by side, and prints a markdown table of medians, ratios
// and the project's targets (issue 8; the committed output is in
// docs/performance.md).
//
//	GOTOOLCHAIN=local go run ./cmd/fixtap-bench            # the full run, 9–13 min on 2 cores
//	GOTOOLCHAIN=local go run ./cmd/fixtap-bench -short     # the harness check CI runs, < 2 min
//
// It builds the fixtap binary and the test binaries of internal/tap,
// internal/seal and internal/verify, then runs the packages' own Go
// benchmarks (the measurement code lives beside the code it measures, so
// `go test -bench` and this command agree), and a memory scenario that runs
// a real `fixtap run` child and reads its RSS from /proc. The throughput and
// latency benchmarks of internal/tap run round-robin, one process per run, so
// the references and the tap see the same machine state; seal and verify run
// -count N in one process each (their fixtures take long to build). Each
// figure is the median of its runs; every run is listed.
//
// It is a separate command, not a `fixtap` subcommand: it needs the Go
// toolchain and the source tree, which a deployed tap has neither of.
//
// -short keeps every code path with fewer events and one run; it checks that
// the harness works and never fails on speed. Without -short the exit status
// is still 0 when a target is missed: the table says so.
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fixtap-bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fixtap-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.BoolVar(&o.short, "short", false, "few events and one run: check that the harness works (CI)")
	fs.IntVar(&o.count, "count", 3, "runs per scenario (the median is reported); -short forces 1")
	fs.StringVar(&o.only, "only", "", "run only these groups, comma-separated: tap,latency,seal,verify,memory")
	fs.IntVar(&o.fill, "fill", 10_000_000, "events stored before the large-log memory run (-short: 100000)")
	fs.StringVar(&o.work, "work", "", "directory for binaries and data (default: a temporary directory, removed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("no arguments expected, got %q", fs.Args())
	}
	if o.short {
		o.count = 1
		o.fill = 100_000
	}
	if o.count < 1 {
		return fmt.Errorf("-count %d: want ≥ 1", o.count)
	}
	return bench(ctx, o, stdout, stderr)
}
