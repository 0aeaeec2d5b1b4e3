package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/metrics"
	"github.com/fixtap/fixtap/internal/replica"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/witness"
)

// anchorEvery is the anchoring cadence of each tier, an upper bound
// (docs/vcp-profile.md §3).
var anchorEvery = map[string]time.Duration{
	tapconfig.TierPlatinum: 10 * time.Minute,
	tapconfig.TierGold:     time.Hour,
	tapconfig.TierSilver:   24 * time.Hour,
}

// checkpointKeyFile is where the checkpoint note key lives: beside the log
// it signs, created on first start (mode 0600).
func checkpointKeyFile(dataDir string) string { return filepath.Join(dataDir, "checkpoint.skey") }

// origin is the checkpoints' first line: the log's identity.
func origin(f *tapconfig.File) string { return "fixtap/" + f.Tap.PolicyID }

// sealParts are the long-lived parts behind the sealer, for the metrics.
type sealParts struct {
	cos *witness.Cosigner   // nil without WitnessPolicyFile
	rep *replica.Replicator // nil without Replica1
}

// startSeal starts the sealer and, when configured, the witness cosigner,
// the anchorer and the replicator (docs/replication.md: checkpoints are
// cosigned, then anchored and published); ss follows checkpoints and
// anchors for the metrics.
// The returned stop shuts them down in order: replication, anchors and
// witnessing first, then the sealer's final checkpoint over every durable
// event (published and anchored at the next start).
func startSeal(ctx context.Context, f *tapconfig.File, log *chain.Log, signer *chain.Signer, tp *tap.Tap, ss *metrics.SealState, logger *slog.Logger, every time.Duration) (func(), *sealParts, error) {
	parts := &sealParts{}
	key, err := seal.LoadOrCreateKeyFile(checkpointKeyFile(f.Tap.DataDir), origin(f), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sc := seal.DefaultConfig(origin(f), key)
	sc.Logger = logger
	sc.OnCheckpoint = ss.OnCheckpoint
	// Their lifetime is stop's, not ctx's: SIGTERM must still get the final
	// checkpoint, cut by Shutdown after the sessions are down.
	s, err := seal.New(context.WithoutCancel(ctx), log, sc)
	if err != nil {
		return nil, nil, err
	}
	src := replica.SealerSource(s)
	if parts.cos, err = startCosigner(ctx, f, log, s, key, tp, logger); err != nil {
		s.Close()
		return nil, nil, err
	}
	if parts.cos != nil {
		src = cosignedSource{parts.cos}
	}
	stopCosigner := func(ctx context.Context) {
		if parts.cos != nil {
			if err := parts.cos.Shutdown(ctx); err != nil {
				logger.Error("witness cosigner shutdown", "err", err)
			}
		}
	}
	if err := ss.Attach(s, f.Tap.TSAURLs); err != nil {
		logger.Warn("metrics: stored anchors unreadable; anchor ages start with the next anchor", "err", err)
	}
	var a *seal.Anchorer
	if len(f.Tap.TSAURLs) > 0 {
		pem, err := os.ReadFile(f.Tap.TSATrustRootsFile)
		if err != nil {
			stopCosigner(context.Background())
			s.Close()
			return nil, nil, fmt.Errorf("run: TSA trust roots: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			stopCosigner(context.Background())
			s.Close()
			return nil, nil, fmt.Errorf("run: TSA trust roots %s: no PEM certificates", f.Tap.TSATrustRootsFile)
		}
		if every == 0 {
			every = anchorEvery[f.Tap.Tier]
		}
		ac := seal.AnchorConfig{Every: every, MinBackoff: time.Second, MaxBackoff: 5 * time.Minute,
			Window: 10 * time.Minute, Now: clock.Wall, PolicyID: f.Tap.PolicyID, Signer: signer, Logger: logger,
			OnAnchor:  func(r *seal.AnchorRecord) { ss.OnAnchor(r); tp.AnchorEvent(r) },
			OnFailure: func(url string, err error) { ss.OnFailure(url, err); tp.AnchorFailure(url, err) }}
		for _, u := range f.Tap.TSAURLs {
			ac.TSAs = append(ac.TSAs, seal.TSA{URL: u, Roots: roots})
		}
		if parts.cos != nil {
			ac.Latest = parts.cos.LatestCheckpoint // the token covers the cosignatures
		}
		if a, err = seal.NewAnchorer(context.WithoutCancel(ctx), s, ac); err != nil {
			stopCosigner(context.Background())
			s.Close()
			return nil, nil, err
		}
	}
	if parts.rep, err = startReplicator(ctx, f, log, s, src, tp, logger); err != nil {
		if a != nil {
			a.Shutdown(context.Background())
		}
		stopCosigner(context.Background())
		s.Close()
		return nil, nil, err
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if parts.rep != nil {
			if err := parts.rep.Shutdown(sctx); err != nil {
				logger.Error("replicator shutdown", "err", err)
			}
		}
		if a != nil {
			a.Shutdown(sctx)
		}
		stopCosigner(sctx)
		if err := s.Shutdown(sctx); err != nil {
			logger.Error("sealer shutdown", "err", err)
		}
		if c, err := s.Latest(); err == nil && c != nil {
			logger.Info("final checkpoint", "tree_size", c.Size)
		}
	}, parts, nil
}
