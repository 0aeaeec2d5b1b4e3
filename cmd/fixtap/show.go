package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/index"
	"github.com/fixtap/fixtap/internal/inspect"
)

// runShow is `fixtap show <EventID|seq>`: one event in full, with its
// standing, from a tap's data dir (read-only; safe while the tap runs).
func runShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "the tap's session file (finds its data dir and keys)")
	asJSON := fs.Bool("json", false, "print the event as one JSON object: its evidence-bundle line, the raw bytes (base64) and its standing")
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if *cfg == "" || fs.NArg() != 1 {
		return &usageError{"show: want -config FILE and one EventID or log seq"}
	}
	in, done, err := openInspector(ctx, stderr, *cfg)
	if err != nil {
		return err
	}
	defer done()
	seq, err := inspect.Find(ctx, in.log, fs.Arg(0))
	if errors.Is(err, inspect.ErrInvalidQuery) {
		return &usageError{"show: " + err.Error()}
	}
	if err != nil {
		return err
	}
	e, err := in.Event(seq)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := e.AppendJSON(nil)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(b, '\n'))
		return err
	}
	return e.WriteText(stdout)
}

// runQuery is `fixtap query`: an order's lifecycle, a session's newest
// events or a capture-time range, as a table or JSON Lines.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "the tap's session file (finds its data dir and keys)")
	order := fs.String("order", "", "one order's whole lifecycle, by ClOrdID, OrigClOrdID, OrderID or ExecID")
	session := fs.String("session", "", "a FIX session's newest events (its name as the tap logs it, e.g. FIX.4.4:TAP->BROKER); with -order, narrows the order search")
	last := fs.Int("last", 0, "only the newest N of the events selected (default 20 for -session alone, else all)")
	from := fs.String("from", "", "capture time range start, RFC 3339 (default: the beginning)")
	to := fs.String("to", "", "capture time range end, RFC 3339, exclusive (default: no end)")
	asJSON := fs.Bool("json", false, "JSON Lines: one object per event, as `fixtap show -json` prints it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	timed := *from != "" || *to != ""
	switch {
	case *cfg == "" || fs.NArg() != 0:
		return &usageError{"query: want -config FILE and -order ID [-session S], -session S [-last N] or -from/-to RFC3339"}
	case *order != "" && timed, *order == "" && *session != "" && timed:
		return &usageError{"query: -from/-to select by time alone; not with -order or -session"}
	case *order == "" && *session == "" && !timed:
		return &usageError{"query: select -order ID, -session S or -from/-to"}
	case *last < 0:
		return &usageError{"query: -last wants a positive number"}
	}
	var fromNs, toNs int64 = math.MinInt64, math.MaxInt64
	for _, t := range []struct {
		flag, v string
		ns      *int64
	}{{"from", *from, &fromNs}, {"to", *to, &toNs}} {
		if t.v == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			return &usageError{fmt.Sprintf("query: -%s %q: want RFC 3339, e.g. 2026-11-21T14:30:00Z", t.flag, t.v)}
		}
		*t.ns = tm.UnixNano()
	}
	in, done, err := openInspector(ctx, stderr, *cfg)
	if err != nil {
		return err
	}
	defer done()

	var seqs []uint64
	var what string
	switch {
	case *order != "":
		what = "order " + inspect.Clean(*order)
		if *session != "" {
			what += " in " + inspect.Clean(*session)
		}
		seqs, err = index.Order(ctx, in.log, *session, *order)
	case *session != "":
		n := *last
		if n == 0 {
			n = 20
		}
		what = "session " + inspect.Clean(*session)
		seqs, err = index.SessionLast(ctx, in.log, *session, n)
	default:
		what = fmt.Sprintf("capture time [%s, %s)", orDash(*from), orDash(*to))
		seqs, err = index.TimeRange(ctx, in.log, fromNs, toNs)
	}
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return fmt.Errorf("query: no event of %s in the log (%d events)", what, in.Size())
	}
	if *last > 0 && len(seqs) > *last {
		seqs = seqs[len(seqs)-*last:]
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "%s: %d events (seq %d..%d); the log holds %d, the newest checkpoint seals %d, the newest anchor %d\n",
			what, len(seqs), seqs[0], seqs[len(seqs)-1], in.Size(), in.TreeSize(), in.AnchoredSize())
	}
	t := inspect.NewTable(stdout)
	var line []byte
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := in.Event(seq)
		if err != nil {
			return err
		}
		if !*asJSON {
			if err := t.Add(e); err != nil {
				return err
			}
			continue
		}
		if line, err = e.AppendJSON(line[:0]); err != nil {
			return err
		}
		if _, err := stdout.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return t.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return inspect.Clean(s)
}

// inspector is an Inspector over a tap's data dir, with the log it reads.
type inspector struct {
	*inspect.Inspector
	log *chain.Log
}

// openInspector opens the data dir of the tap cfg configures read-only
// (openReader: a snapshot when the tap runs) and an Inspector over it that
// checks signatures with the configured event key.
func openInspector(ctx context.Context, stderr io.Writer, cfg string) (*inspector, func(), error) {
	f, err := loadConfig(stderr, cfg)
	if err != nil {
		return nil, nil, err
	}
	r, err := openReader(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	in, err := inspect.New(r.log, r.seal, r.src.EventKeys...)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return &inspector{Inspector: in, log: r.log}, func() { r.Close() }, nil
}
