package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/fixtap/fixtap/internal/verify"
)

// errVerifyFailed makes `fixtap verify` exit 1 after printing its report.
var errVerifyFailed = errors.New("verify: the bundle does not verify")

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// runVerify is `fixtap verify <bundle>`.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var keys multiFlag
	fs.Var(&keys, "key", "pin an event-signing public key (PEM file; repeatable); default: the bundle's keys")
	cpKey := fs.String("checkpoint-key", "", "pin the checkpoint note verifier key (a vkey string or a file holding one); default: the bundle's")
	roots := fs.String("tsa-roots", "", "pin the TSA trust roots (PEM file); default: the bundle's")
	witnessPolicy := fs.String("witness-policy", "", "pin the witness policy (Sigsum format file); default: the bundle's copy, if any")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	strict := fs.Bool("strict-policy", false, "fail when an event's clock status is below its tier's requirement")
	hashesOnly := fs.Bool("hashes-only", false, "a quick integrity pass: hashes, chain links, tree, checkpoints and anchors only (never exit 0: not a full verification)")
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"verify: want exactly one bundle (a directory or archive)"}
	}
	var opts verify.Options
	opts.StrictPolicy, opts.HashesOnly = *strict, *hashesOnly
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			return err
		}
		pub, err := verify.ParsePublicKeyPEM(b)
		if err != nil {
			return fmt.Errorf("verify: -key %s: %w", k, err)
		}
		opts.EventKeys = append(opts.EventKeys, ed25519.PublicKey(pub))
	}
	if *cpKey != "" {
		opts.CheckpointKey = *cpKey
		if b, err := os.ReadFile(*cpKey); err == nil {
			opts.CheckpointKey = strings.TrimSpace(string(b))
		}
	}
	if *roots != "" {
		b, err := os.ReadFile(*roots)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("verify: -tsa-roots %s: no PEM certificates", *roots)
		}
		opts.TSARoots = pool
	}
	if *witnessPolicy != "" {
		b, err := os.ReadFile(*witnessPolicy)
		if err != nil {
			return err
		}
		opts.WitnessPolicy = b
	}
	fsys, err := verify.OpenPath(fs.Arg(0))
	if err != nil {
		return err
	}
	rep, err := verify.Verify(fsys, opts)
	if rep == nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, fs.Arg(0), rep)
	}
	if err != nil || !rep.OK {
		return errVerifyFailed
	}
	return nil
}

// reorderFlags lets the bundle come before the flags
// (`fixtap verify bundle -json`), as users type it.
func reorderFlags(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && a != "-json" && a != "--json" && a != "-strict-policy" && a != "-hashes-only" && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		rest = append(rest, a)
	}
	return append(flags, rest...)
}

func printReport(w io.Writer, path string, r *verify.Report) {
	verdict := "VERIFIED"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "fixtap verify %s: %s\n", path, verdict)
	fmt.Fprintf(w, "  bundle     %s, %s export (%s), origin %q\n", r.Format, r.Kind, selString(r.Selection), r.Origin)
	fmt.Fprintf(w, "  events     %d (seq %d..%d) of a log sealed at tree size %d\n", r.Events, r.FirstSeq, r.LastSeq, r.TreeSize)
	fmt.Fprintf(w, "  layer 1    canonical form, EventHash, chain links: %d events; signatures: %d; raw FIX bytes: %d%s\n",
		r.Events, r.Signatures, r.RawChecked, map[bool]string{true: " (redacted: hashes only)", false: ""}[r.RawRedacted])
	if r.Kind == verify.KindFull {
		fmt.Fprintf(w, "  layer 2    tree recomputed from every event; %d checkpoints signed and consistent\n", r.Checkpoints)
	} else {
		fmt.Fprintf(w, "  layer 2    %d inclusion proofs; %d checkpoints signed and consistent\n", r.Inclusion, r.Checkpoints)
	}
	ok := 0
	for _, a := range r.Anchors {
		if a.OK {
			ok++
		}
	}
	fmt.Fprintf(w, "  layer 3    %d of %d RFC 3161 anchors verify\n", ok, len(r.Anchors))
	for _, a := range r.Anchors {
		fmt.Fprintf(w, "               checkpoint %d by %s at %s %s\n", a.TreeSize, a.TSA, a.GenTime, map[bool]string{true: "ok", false: "FAILED"}[a.OK])
	}
	if wr := r.Witness; wr != nil {
		fmt.Fprintf(w, "  witnesses  policy %s\n", wr.Policy)
		for _, c := range wr.Checkpoints {
			if !c.Required && len(c.Cosigners) == 0 {
				continue
			}
			state := map[bool]string{true: "satisfied", false: "NOT satisfied"}[c.Satisfied]
			fmt.Fprintf(w, "               checkpoint %d: %s by %s\n", c.TreeSize, state, strings.Join(c.Cosigners, ", "))
		}
	}
	fmt.Fprintf(w, "  trust      event keys %s; checkpoint key %s; TSA roots %s\n", r.Trust.EventKeys, r.Trust.CheckpointKey, r.Trust.TSARoots)
	fmt.Fprintf(w, "  complete   %s\n", r.Completeness)
	for _, s := range r.Sessions {
		fmt.Fprintf(w, "               %s epoch %d: MsgSeqNum %d..%d, %d delivered, %d accounted as never delivered\n", s.SessionID, s.Epoch, s.First, s.Last, s.Delivered, s.Accounted)
	}
	if x := r.XRef; x != nil {
		fmt.Fprintf(w, "  xref       %d MATCHED, %d DISCREPANCY (%d duplicates), %d TIMEOUT; %d re-checked against the events they name, %d name events not in this bundle\n",
			x.Matched, x.Discrepancy, x.Duplicates, x.Timeout, x.Rechecked, x.NotInHere)
	}
	fmt.Fprintf(w, "  types      %s\n", countString(r.EventTypes))
	fmt.Fprintf(w, "  clock      %s\n", countString(r.ClockStatuses))
	if r.PolicyCount > 0 {
		fmt.Fprintf(w, "  policy     %d events below their tier's clock requirement, e.g.:\n", r.PolicyCount)
		for i, p := range r.PolicyFindings {
			if i == 5 {
				fmt.Fprintf(w, "               … (--json lists up to 1000)\n")
				break
			}
			fmt.Fprintf(w, "               seq %d %s: %s, tier %s requires %s\n", p.Seq, p.EventID, p.Status, p.Tier, p.Required)
		}
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "  warning    %s\n", s)
	}
	if r.FailureCount > 0 {
		fmt.Fprintf(w, "  FAILURES   %d\n", r.FailureCount)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "    %s\n", f.Error())
		}
	}
}

func selString(s verify.Selection) string {
	parts := []string{s.By}
	for _, kv := range [][2]string{{"from", s.From}, {"to", s.To}, {"session", s.Session}, {"order", s.Order}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

func countString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
