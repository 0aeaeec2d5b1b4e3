package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/replica"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/tapconfig"
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

// replicaCollector exposes the replicator's status at scrape time.
type replicaCollector struct{ r *replica.Replicator }

var (
	replDelivered = desc("fixtap_replica_delivered_tree_size", "Largest tree size that ReplicaQuorum stores hold completely.")
	replStore     = desc("fixtap_replica_store_tree_size", "Tree size a replica store holds completely.", "store")
	replLag       = desc("fixtap_replica_store_lag_entries", "Published tree size minus what the store holds.", "store")
	replDown      = desc("fixtap_replica_store_down", "1 while the store is failing or stopped after an alarm.", "store")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

func (replicaCollector) Describe(chan<- *prometheus.Desc) {}

func (c replicaCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(replDelivered, prometheus.GaugeValue, float64(c.r.Delivered()))
	for _, st := range c.r.Status() {
		ch <- prometheus.MustNewConstMetric(replStore, prometheus.GaugeValue, float64(st.Delivered), st.Name)
		ch <- prometheus.MustNewConstMetric(replLag, prometheus.GaugeValue, float64(st.Lag), st.Name)
		down := 0.0
		if st.Down || st.Stopped {
			down = 1
		}
		ch <- prometheus.MustNewConstMetric(replDown, prometheus.GaugeValue, down, st.Name)
	}
}
