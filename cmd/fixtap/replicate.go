package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/replica"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/witness"
)

// startReplicator starts replicating the log to f's Replica1…N stores
// (docs/replication.md), publishing what src publishes: the sealer's
// checkpoints, or the witness-cosigned ones. Failure episodes and alarms
// become ERR events through tp. It returns nil without stores.
func startReplicator(ctx context.Context, f *tapconfig.File, log *chain.Log, s *seal.Sealer, src replica.Source, tp *tap.Tap, logger *slog.Logger) (*replica.Replicator, error) {
	if len(f.Tap.Replicas) == 0 {
		return nil, nil
	}
	rc := replica.DefaultConfig()
	rc.Quorum, rc.Now, rc.Logger = f.Tap.ReplicaQuorum, clock.Wall, logger
	for _, r := range f.Tap.Replicas {
		id, secret, err := tapconfig.LoadReplicaCredentials(r.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("run: replica %s: %w", r.Name, err)
		}
		rc.Stores = append(rc.Stores, replica.Store{Name: r.Name, Endpoint: r.Endpoint, Region: r.Region, Bucket: r.Bucket,
			Prefix: r.Prefix, AccessKeyID: id, SecretAccessKey: secret, PathStyle: r.PathStyle})
	}
	rc.OnFailure = func(store string, err error) {
		tp.ComponentError("replica "+store, "WARNING",
			fmt.Sprintf("replica store failing; retrying with backoff, its backlog is caught up when it returns: %v", err))
	}
	rc.OnRecover = func(store string, down time.Duration) {
		logger.Info("replica store recovered", "store", store, "down", down)
	}
	rc.OnAlarm = func(store string, err error) {
		tp.ComponentError("replica "+store, "CRITICAL",
			fmt.Sprintf("replica store holds evidence that conflicts with this log; no longer written until an operator looks: %v", err))
	}
	// Its lifetime is the caller's stop, not ctx's (as the sealer's).
	return replica.New(context.WithoutCancel(ctx), log, s, src, rc)
}

// startCosigner starts witnessing when f names a WitnessPolicyFile: every
// new checkpoint goes to the policy's witnesses, and only cosigned ones
// are anchored and published. Refusals and forks are CRITICAL ERR events,
// outages one WARNING per episode. It returns nil without a policy.
func startCosigner(ctx context.Context, f *tapconfig.File, log *chain.Log, s *seal.Sealer, key *seal.Key, tp *tap.Tap, logger *slog.Logger) (*witness.Cosigner, error) {
	if f.Tap.WitnessPolicyFile == "" {
		return nil, nil
	}
	pol, err := loadWitnessPolicy(f.Tap.WitnessPolicyFile)
	if err != nil {
		return nil, err
	}
	wc := witness.DefaultConfig(key.Verifier, clock.Wall)
	wc.Logger = logger
	wc.OnFailure = func(w string, err error) {
		tp.ComponentError("witness "+w, "WARNING",
			fmt.Sprintf("witness failing; retrying with backoff, publishing and anchoring wait for the policy's quorum: %v", err))
	}
	wc.OnRecover = func(w string) { logger.Info("witness recovered", "witness", w) }
	wc.OnAlarm = func(w string, err error) {
		tp.ComponentError("witness "+w, "CRITICAL",
			fmt.Sprintf("witness refused this log's checkpoint or has seen another history of it; an operator must look: %v", err))
	}
	return witness.New(context.WithoutCancel(ctx), log, s, pol, wc)
}

// loadWitnessPolicy reads and parses a Sigsum-format witness policy file.
func loadWitnessPolicy(path string) (*cosign.Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run: witness policy: %w", err)
	}
	return cosign.ParsePolicy(path, b)
}

// cosignedSource publishes the witness-cosigned checkpoints to the
// replicas (replica.Source).
type cosignedSource struct{ c *witness.Cosigner }

func (cs cosignedSource) Published() (replica.Published, <-chan struct{}) {
	c, ch := cs.c.Published()
	if c == nil {
		return replica.Published{}, ch
	}
	return replica.Published{Size: c.Size, Root: c.Root, Note: c.Note}, ch
}
