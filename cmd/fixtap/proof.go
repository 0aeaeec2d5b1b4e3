package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/fixtap/fixtap/internal/export"
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
	seq, err := findEvent(r, fs.Arg(0))
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

// findEvent resolves a log seq or an EventID. EventIDs are UUIDv7 from
// capture time, so the search walks the log; a seq is direct.
func findEvent(r *reader, arg string) (uint64, error) {
	if n, err := strconv.ParseUint(arg, 10, 64); err == nil {
		return n, nil
	}
	size := r.log.Durable()
	found := uint64(0)
	ok := false
	// Newest first: proofs are usually wanted for recent events.
	const step = 4096
	for end := size; end > 0 && !ok; {
		start := end - min(end, step)
		err := r.log.Range(start, end, func(rec *recordT) error {
			var h struct{ EventID string }
			if json.Unmarshal(rec.Header, &h) == nil && h.EventID == arg {
				found, ok = rec.Seq, true
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		end = start
	}
	if !ok {
		return 0, fmt.Errorf("proof: no event has EventID %s", arg)
	}
	return found, nil
}
