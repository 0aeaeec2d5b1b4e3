package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"

	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/testenv/s3test"
	"github.com/fixtap/fixtap/internal/testenv/witnesstest"
	"github.com/fixtap/fixtap/internal/verify"
)

// TestRunReplicatedWitnessed runs the whole issue-10 pipeline with real
// components: the tap with two versitygw replicas (quorum 2), two
// litewitness witnesses (policy 2-of-2) and a TSA, fed by loadgen. Then:
// `fixtap monitor -once -full` passes on both replicas; tessera's fsck
// passes on each; `fixtap export` ends at a cosigned checkpoint whose note
// carries both cosignatures, and `fixtap verify -witness-policy` accepts
// it with the anchors over the cosigned notes.
func TestRunReplicatedWitnessed(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port)
	const origin = "fixtap/test.fixtap:default"

	// The checkpoint key exists before the tap starts, so the witnesses
	// can be told it (witnessctl add-key, in production).
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := seal.LoadOrCreateKeyFile(checkpointKeyFile(filepath.Join(dir, "data")), origin, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var policy strings.Builder
	for i := 1; i <= 2; i++ {
		w := witnesstest.Start(t, fmt.Sprintf("w%d.fixtap.test", i), witnesstest.Log{Origin: origin, VerifierKeys: []string{key.VerifierKey}})
		fmt.Fprintf(&policy, "witness w%d %s %s\n", i, w.VerifierKey, w.URL)
	}
	policy.WriteString("group both all w1 w2\nquorum both\n")
	policyFile := filepath.Join(dir, "witness.policy")
	if err := os.WriteFile(policyFile, []byte(policy.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var replicas []string
	var extra strings.Builder
	for i := 1; i <= 2; i++ {
		s := s3test.Start(t)
		s.CreateBucket(t, "audit")
		s.MakePublicRead(t, "audit")
		cred := filepath.Join(dir, fmt.Sprintf("s3-%d.cred", i))
		if err := os.WriteFile(cred, []byte(fmt.Sprintf("access_key_id = %s\nsecret_access_key = %s\n", s.AccessKey, s.SecretKey)), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&extra, "Replica%d=name=r%d,endpoint=%s,region=%s,bucket=audit,prefix=tap-1,credentials=%s,path-style=Y\n",
			i, i, s.Endpoint, s.Region, cred)
		replicas = append(replicas, s.URL("audit", "tap-1"))
	}
	tsa, err := startDemoTSA()
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	roots := filepath.Join(dir, "tsa-root.pem")
	if err := os.WriteFile(roots, tsa.RootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	fmt.Fprintf(&extra, "ReplicaQuorum=2\nWitnessPolicyFile=%s\nTSAURL1=%s\nTSATrustRootsFile=%s\nMetricsAddress=%s\n", policyFile, tsa.URL, roots, metricsAddr)
	text, _ := os.ReadFile(cfgPath)
	text = bytes.Replace(text, []byte("[DEFAULT]\n"), []byte("[DEFAULT]\n"+extra.String()), 1)
	if err := os.WriteFile(cfgPath, text, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := tapconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	served := make(chan error, 1)
	var logBuf lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	go func() {
		served <- serve(ctx, f, logger, io.Discard, serveOptions{AnchorEvery: time.Second, Ready: ready})
	}()
	select {
	case <-ready:
	case err := <-served:
		t.Fatalf("serve: %v\n%s", err, logBuf.String())
	}
	st, err := loadgen.Run(ctx, loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port),
		BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP", Count: 3000, ResetSeqNum: true, Seed: 10, Now: clock.Wall})
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, logBuf.String())
	}

	// The monitor, as an outsider: both replicas must come to hold the
	// loadgen traffic, cosigned, and pass every check.
	monArgs := append([]string{"monitor", "-once", "-full", "-log-key", key.VerifierKey, "-origin", origin, "-witness-policy", policyFile}, replicas...)
	var out, errb bytes.Buffer
	deadline := time.Now().Add(60 * time.Second)
	for {
		out.Reset()
		errb.Reset()
		err = run(ctx, monArgs, &out, &errb)
		if err == nil && replicasHold(t, replicas, uint64(st.Sent)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitor never passed with the traffic replicated: %v\n%s\n%s\ntap log:\n%s", err, out.String(), errb.String(), tail(logBuf.String(), 4000))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The tap's own view, on /metrics.
	mf := scrape(t, "http://"+metricsAddr)
	if d := metric(mf, "fixtap_replica_delivered_tree_size", "", ""); d < float64(st.Sent) {
		t.Errorf("fixtap_replica_delivered_tree_size %v, want ≥ %d", d, st.Sent)
	}
	if c := metric(mf, "fixtap_witness_cosigned_tree_size", "", ""); c < float64(st.Sent) {
		t.Errorf("fixtap_witness_cosigned_tree_size %v, want ≥ %d", c, st.Sent)
	}
	if down := metric(mf, "fixtap_replica_store_down", "store", "r1"); down != 0 {
		t.Errorf("fixtap_replica_store_down{store=r1} %v, want 0", down)
	}
	// Tessera's own checker on each replica.
	v, err := seal.ParseVerifierKey(key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		u, _ := url.Parse(r)
		fetcher, err := client.NewHTTPFetcher(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := fsck.New(origin, v, fetcher, rfc6962LeafHashes, fsck.Opts{N: 2}).Check(ctx); err != nil {
			t.Fatalf("tessera fsck %s: %v", r, err)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}

	// Export and verify with the policy pinned.
	bundle := filepath.Join(dir, "bundle")
	if err := run(context.Background(), []string{"export", "-config", cfgPath, "-all", "-o", bundle}, &out, &errb); err != nil {
		t.Fatalf("export: %v\n%s", err, errb.String())
	}
	fsys, err := verify.OpenPath(bundle)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Verify(fsys, verify.Options{WitnessPolicy: []byte(policy.String()), CheckpointKey: key.VerifierKey})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v\n%+v", err, rep.Failures)
	}
	if rep.Witness == nil || len(rep.Witness.Checkpoints) == 0 {
		t.Fatalf("no witness report: %+v", rep.Witness)
	}
	last := rep.Witness.Checkpoints[len(rep.Witness.Checkpoints)-1]
	if !last.Satisfied || len(last.Cosigners) != 2 || last.TreeSize != rep.TreeSize {
		t.Fatalf("newest checkpoint's cosignatures: %+v (bundle tree size %d)", last, rep.TreeSize)
	}
	anchored := 0
	for _, a := range rep.Anchors {
		if a.OK {
			anchored++
		}
	}
	if anchored == 0 {
		t.Fatalf("no anchor over a cosigned checkpoint verified: %+v", rep.Anchors)
	}
	for _, c := range rep.Witness.Checkpoints {
		if c.Required && !c.Satisfied {
			t.Errorf("required checkpoint %d not satisfied: %+v", c.TreeSize, c)
		}
	}
}

// replicasHold reports whether every replica's checkpoint covers at least
// n events.
func replicasHold(t *testing.T, replicas []string, n uint64) bool {
	for _, r := range replicas {
		u, _ := url.Parse(r)
		fetcher, err := client.NewHTTPFetcher(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fetcher.ReadCheckpoint(context.Background())
		if err != nil {
			return false
		}
		lines := strings.SplitN(string(b), "\n", 3)
		var size uint64
		if len(lines) < 2 {
			return false
		}
		fmt.Sscan(lines[1], &size)
		if size < n {
			return false
		}
	}
	return true
}

// rfc6962LeafHashes is fsck's bundle hasher for a plain tlog-tiles log:
// each entry's RFC 6962 leaf hash (fixtap's entries are EventHashes).
func rfc6962LeafHashes(bundle []byte) ([][]byte, error) {
	eb := &api.EntryBundle{}
	if err := eb.UnmarshalText(bundle); err != nil {
		return nil, err
	}
	out := make([][]byte, len(eb.Entries))
	for i, e := range eb.Entries {
		out[i] = rfc6962.DefaultHasher.HashLeaf(e)
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
