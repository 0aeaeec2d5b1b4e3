package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/fixtap/fixtap/internal/export"
	"github.com/fixtap/fixtap/internal/inspect"
	"github.com/fixtap/fixtap/internal/verify"
)

// runProof is `fixtap proof <EventID|seq>`: a standalone proof bundle for
// one event — the event exactly as hashed, its raw FIX bytes, its C2SP
// tlog-proof against the first checkpoint covering it, the consistency
// chain to the anchored checkpoint and its RFC 3161 token, and the keys —
// which `fixtap verify` checks alone.
func runProof(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("proof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "the tap's session file")
	out := fs.String("o", "", "proof bundle to write (a directory, or an archive ending in .tar, .tar.gz or .tgz)")
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if *cfg == "" || *out == "" || fs.NArg() != 1 {
		return &usageError{"proof: want -config FILE -o OUT and one EventID or log seq"}
	}
	f, err := loadConfig(stderr, *cfg)
	if err != nil {
		return err
	}
	r, err := openReader(ctx, f)
	if err != nil {
		return err
	}
	defer r.Close()
	seq, err := inspect.Find(ctx, r.log, fs.Arg(0))
	if errors.Is(err, inspect.ErrInvalidQuery) {
		return &usageError{"proof: " + err.Error()}
	}
	if err != nil {
		return err
	}
	m, err := writeBundle(ctx, r.src, export.Request{Selection: verify.Selection{By: "event", From: fs.Arg(0)},
		Seqs: []uint64{seq}, Kind: verify.KindProof}, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fixtap: wrote the proof of seq %d to %s (%d checkpoints, %d anchors)\n", seq, *out, len(m.Checkpoints), len(m.Anchors))
	return nil
}
