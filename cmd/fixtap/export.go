package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/export"
	"github.com/fixtap/fixtap/internal/index"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/snapshot"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/verify"
	"github.com/fixtap/fixtap/internal/witness"
)

// reader is a read-only view of a tap's data: its log (a snapshot when a
// tap is running), sealed tree and the export source built from its keys.
type reader struct {
	f       *tapconfig.File
	log     *chain.Log
	seal    *seal.Sealer
	src     *export.Source
	cleanup func() error
}

// openReader opens the data dir of the tap f configures, read-only and
// safe while the tap runs (internal/snapshot).
func openReader(ctx context.Context, f *tapconfig.File) (*reader, error) {
	priv, err := chain.LoadPrivateKeyFile(f.Tap.SigningKeyFile)
	if err != nil {
		return nil, err
	}
	key, err := seal.LoadKeyFile(checkpointKeyFile(f.Tap.DataDir))
	if err != nil {
		return nil, err
	}
	var roots []byte
	if f.Tap.TSATrustRootsFile != "" {
		if roots, err = os.ReadFile(f.Tap.TSATrustRootsFile); err != nil {
			return nil, err
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, cleanup, err := snapshot.Open(ctx, f.Tap.DataDir, quiet)
	if err != nil {
		return nil, err
	}
	s, err := seal.OpenReader(l, origin(f), key.Verifier)
	if err != nil {
		cleanup()
		return nil, err
	}
	src := &export.Source{
		Log: l, Seal: s, Origin: origin(f), ManifestSigner: key.Signer, CheckpointVKey: key.VerifierKey,
		EventKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, TSARootsPEM: roots,
		Tier: f.Tap.Tier, PolicyID: f.Tap.PolicyID, Now: clock.Wall,
	}
	if f.Tap.WitnessPolicyFile != "" {
		if err := addCosigned(src, l, f.Tap.WitnessPolicyFile, key); err != nil {
			cleanup()
			return nil, err
		}
	}
	return &reader{f: f, log: l, seal: s, cleanup: cleanup, src: src}, nil
}

// addCosigned makes an export of a witnessed tap stop at the newest
// cosigned checkpoint and write cosigned notes (docs/bundle.md), with the
// policy copied in. Stored cosigned notes are read back as stored, even if
// the policy has changed since (the verifier judges them).
func addCosigned(src *export.Source, l *chain.Log, policyFile string, key *seal.Key) error {
	text, err := os.ReadFile(policyFile)
	if err != nil {
		return fmt.Errorf("export: witness policy: %w", err)
	}
	wr, err := witness.OpenReader(l.DB(), nil, key.Verifier)
	if err != nil {
		return err
	}
	src.WitnessPolicy = text
	src.Cosigned = func(size uint64) ([]byte, bool, error) {
		c, err := wr.Get(size)
		if errors.Is(err, witness.ErrNoCosigned) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		return c.Note, true, nil
	}
	src.LatestCosigned = func() (uint64, bool, error) {
		c, err := wr.Latest()
		if errors.Is(err, witness.ErrNoCosigned) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		return c.Size, true, nil
	}
	return nil
}

// Close closes the log and removes the snapshot, if one was taken.
func (r *reader) Close() error { return r.cleanup() }

// runExport is `fixtap export`.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "the tap's session file (finds its data dir and keys)")
	out := fs.String("o", "", "bundle to write: a directory, or an archive if it ends in .tar, .tar.gz or .tgz")
	all := fs.Bool("all", false, "the whole log up to the newest checkpoint (the default when nothing else is selected)")
	seqs := fs.String("seq", "", "log seq range FROM:TO (TO exclusive; either may be empty)")
	from := fs.String("from", "", "capture time range start, RFC 3339 (with -to)")
	to := fs.String("to", "", "capture time range end, RFC 3339, exclusive")
	session := fs.String("session", "", "one FIX session's events (its name as the tap logs it, e.g. FIX.4.4:TAP->BROKER); with -order, narrows the order search")
	order := fs.String("order", "", "one order's whole lifecycle, by ClOrdID, OrigClOrdID, OrderID or ExecID")
	redact := fs.Bool("redact-raw", false, "leave the raw FIX bytes out (their SHA-256 stays in each event)")
	xref := fs.Bool("xref", false, "the reconciliation outcomes (VCP-XREF) and the events they name, with xref.jsonl: each firm-side record with ExpectedCounterpartyHash for the counterparty to check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfg == "" || *out == "" || fs.NArg() != 0 {
		return &usageError{"export: want -config FILE -o BUNDLE and a selection (-all, -seq, -from/-to, -session, -order)"}
	}
	f, err := tapconfig.Load(*cfg)
	if err != nil {
		return configError(stderr, err)
	}
	r, err := openReader(ctx, f)
	if err != nil {
		return err
	}
	defer r.Close()
	var req export.Request
	if *xref {
		req, err = selectXRef(ctx, r)
	} else {
		req, err = selectEvents(ctx, r, *all, *seqs, *from, *to, *session, *order)
	}
	if err != nil {
		return err
	}
	req.RedactRaw = *redact
	m, err := writeBundle(ctx, r.src, req, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fixtap: wrote %s bundle %s: %d events (seq %d..%d), %d checkpoints, %d anchors, tree size %d\n",
		m.Kind, *out, m.Events, m.FirstSeq, m.LastSeq, len(m.Checkpoints), len(m.Anchors), m.TreeSize)
	fmt.Fprintf(stdout, "verify it with: fixtap verify %s\n", *out)
	return nil
}

func writeBundle(ctx context.Context, src *export.Source, req export.Request, out string) (*verify.Manifest, error) {
	if strings.HasSuffix(out, ".tar") || strings.HasSuffix(out, ".tar.gz") || strings.HasSuffix(out, ".tgz") {
		return export.WriteArchive(ctx, src, req, out)
	}
	return export.WriteDir(ctx, src, req, out)
}

// selectEvents turns the selection flags into an export request, using
// the derived indexes (internal/index) for time, session and order.
func selectEvents(ctx context.Context, r *reader, all bool, seqs, from, to, session, order string) (export.Request, error) {
	n := uint64(0)
	if c, err := r.seal.Latest(); err == nil {
		n = c.Size
	}
	var req export.Request
	var err error
	switch {
	case order != "":
		req.Selection = verify.Selection{By: "order", Order: order, Session: session}
		req.Seqs, err = index.Order(ctx, r.log, session, order)
	case session != "":
		req.Selection = verify.Selection{By: "session", Session: session}
		req.Seqs, err = index.Session(ctx, r.log, session)
	case from != "" || to != "":
		var a, b time.Time
		if a, err = time.Parse(time.RFC3339Nano, from); err != nil {
			return req, &usageError{fmt.Sprintf("export: -from %q: want RFC 3339", from)}
		}
		if b, err = time.Parse(time.RFC3339Nano, to); err != nil {
			return req, &usageError{fmt.Sprintf("export: -to %q: want RFC 3339", to)}
		}
		req.Selection = verify.Selection{By: "time", From: from, To: to}
		req.Seqs, err = index.TimeRange(ctx, r.log, a.UnixNano(), b.UnixNano())
	case seqs != "":
		lo, hi, ok := strings.Cut(seqs, ":")
		a, b := uint64(0), n
		var e1, e2 error
		if lo != "" {
			a, e1 = strconv.ParseUint(lo, 10, 64)
		}
		if hi != "" {
			b, e2 = strconv.ParseUint(hi, 10, 64)
		}
		if !ok || e1 != nil || e2 != nil || a >= b {
			return req, &usageError{fmt.Sprintf("export: -seq %q: want FROM:TO with FROM < TO", seqs)}
		}
		req.Selection = verify.Selection{By: "seq", From: strconv.FormatUint(a, 10), To: strconv.FormatUint(b, 10)}
		for s := a; s < min(b, n); s++ {
			req.Seqs = append(req.Seqs, s)
		}
		if a == 0 && b >= n {
			req.All = true
		}
	default:
		_ = all
		req.Selection = verify.Selection{By: "all"}
		req.All = true
	}
	if err != nil {
		return req, err
	}
	if !req.All && len(req.Seqs) == 0 {
		return req, errors.New("export: the selection matches no event")
	}
	return req, nil
}

// loadConfig loads a session file, printing a refusal the way `run` does.
func loadConfig(stderr io.Writer, path string) (*tapconfig.File, error) {
	f, err := tapconfig.Load(path)
	if err != nil {
		return nil, configError(stderr, err)
	}
	return f, nil
}

// selectXRef selects every VCP-XREF outcome below the newest checkpoint
// and the events each names, so that verify can re-check them, and asks
// for xref.jsonl. Two passes over the log: the outcomes and the EventIDs
// they name, then those events' seqs.
func selectXRef(ctx context.Context, r *reader) (export.Request, error) {
	req := export.Request{Selection: verify.Selection{By: "xref"}, XRefRecords: true}
	c, err := r.seal.Latest()
	if err != nil {
		return req, err
	}
	named := map[string]bool{}
	err = r.log.Range(0, c.Size, func(rec *chain.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !bytes.Contains(rec.Payload, []byte(`"VCP-XREF":`)) {
			return nil
		}
		var p struct {
			XRef struct{ LocalEventID, CounterpartyEventID, RepeatsEventID string } `json:"VCP-XREF"`
		}
		if err := json.Unmarshal(rec.Payload, &p); err != nil {
			return fmt.Errorf("export: seq %d: %w", rec.Seq, err)
		}
		req.Seqs = append(req.Seqs, rec.Seq)
		for _, id := range []string{p.XRef.LocalEventID, p.XRef.CounterpartyEventID, p.XRef.RepeatsEventID} {
			if id != "" {
				named[id] = true
			}
		}
		return nil
	})
	if err != nil {
		return req, err
	}
	if len(req.Seqs) == 0 {
		return req, errors.New("export: the log holds no reconciliation outcome (VCP-XREF) yet")
	}
	err = r.log.Range(0, c.Size, func(rec *chain.Record) error {
		if !bytes.Contains(rec.Payload, []byte(`"VCP-TRADE":`)) {
			return nil
		}
		var h struct{ EventID string }
		if json.Unmarshal(rec.Header, &h) == nil && named[h.EventID] {
			req.Seqs = append(req.Seqs, rec.Seq)
		}
		return nil
	})
	return req, err
}
