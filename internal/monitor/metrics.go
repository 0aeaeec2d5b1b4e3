package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dCheckOK   = desc("fixtap_monitor_check_ok", "1 when the check held in the last round (ok or warn), 0 when it failed or could not run.", "replica", "check")
	dCheckFail = desc("fixtap_monitor_check_failures_total", "Rounds in which the check failed, since start.", "replica", "check")
	dTreeSize  = desc("fixtap_monitor_tree_size", "Tree size of the replica's verified checkpoint in the last round.", "replica")
	dAge       = desc("fixtap_monitor_checkpoint_age_seconds", "Age of the replica's newest checkpoint: since its newest cosignature, else since the monitor first saw its size.", "replica")
	dBehind    = desc("fixtap_monitor_behind_entries", "Entries the replica is behind the largest verified tree.", "replica")
	dVerified  = desc("fixtap_monitor_verified_size", "Entries of the replica whose bundles, tiles and events are verified.", "replica")
	dSilence   = desc("fixtap_monitor_fix_silence_seconds", "Log time between the newest FIX-derived event and the newest event of any type.")
	dInWindow  = desc("fixtap_monitor_in_window", "1 when the log's newest event falls in a trading window.")
	dOK        = desc("fixtap_monitor_ok", "1 when no check failed in the last round.")
	dRounds    = desc("fixtap_monitor_rounds_total", "Rounds completed since start.")
	dLastRound = desc("fixtap_monitor_last_round_timestamp_seconds", "When the last round started (Unix time).")
	dDuration  = desc("fixtap_monitor_round_duration_seconds", "How long the last round took.")
)

// collector exports the last round's report at scrape time.
type collector struct{ m *Monitor }

func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	rep := c.m.last
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for k, n := range c.m.failures {
		ch <- prometheus.MustNewConstMetric(dCheckFail, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	var rounds float64
	if rep == nil {
		ch <- prometheus.MustNewConstMetric(dRounds, prometheus.CounterValue, rounds)
		return
	}
	for _, x := range rep.Results {
		gauge(dCheckOK, b2f(x.Status == StatusOK || x.Status == StatusWarn), x.Replica, x.Check)
	}
	for _, r := range rep.Replicas {
		if r.Size >= 0 {
			gauge(dTreeSize, float64(r.Size), r.Replica)
		}
		if r.AgeKnown {
			gauge(dAge, r.Age.Seconds(), r.Replica)
		}
		if r.Behind >= 0 {
			gauge(dBehind, float64(r.Behind), r.Replica)
		}
		gauge(dVerified, float64(r.Verified), r.Replica)
	}
	if rep.SilenceKnown {
		gauge(dSilence, rep.Silence.Seconds())
	}
	gauge(dInWindow, b2f(rep.InWindow))
	gauge(dOK, b2f(rep.OK()))
	ch <- prometheus.MustNewConstMetric(dRounds, prometheus.CounterValue, float64(c.m.completed))
	gauge(dLastRound, float64(rep.Time.UnixNano())/1e9)
	gauge(dDuration, rep.Duration.Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ReplicaReport is the per-replica figures of a round.
type ReplicaReport struct {
	Replica  string
	Size     int64 // -1 when no checkpoint verified
	Behind   int64 // entries behind the head, -1 when unknown
	Age      time.Duration
	AgeKnown bool
	Verified int64
}

// publish completes the report, makes it the one the metrics show, and
// logs the round.
func (m *Monitor) publish(rep *Report, rs []*replicaRound) {
	for _, r := range rs {
		rr := ReplicaReport{Replica: r.name, Size: r.size(), Behind: -1, Age: r.age, AgeKnown: r.ageKnown, Verified: r.verified}
		if r.cp != nil && rep.HeadSize >= 0 {
			rr.Behind = max(rep.HeadSize-r.cp.Tree.N, 0)
		}
		rep.Replicas = append(rep.Replicas, rr)
	}
	m.mu.Lock()
	m.last = rep
	m.completed++
	for _, x := range rep.Results {
		if x.Status == StatusFail {
			m.failures[[2]string{x.Replica, x.Check}]++
		}
	}
	m.mu.Unlock()
	for _, x := range rep.Results {
		if x.Status == StatusFail {
			m.cfg.Logger.Error("monitor: check failed", "replica", x.Replica, "check", x.Check, "size", x.Size, "err", x.Err, "detail", x.Detail)
		}
	}
	m.cfg.Logger.Info("monitor: round", "ok", rep.OK(), "head_size", rep.HeadSize, "failed", len(rep.Failed()), "took", rep.Duration)
}

// Last returns the last round's report, nil before the first.
func (m *Monitor) Last() *Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Handler serves GET /metrics (Prometheus, the monitor's own registry)
// and GET /healthz: 200 "ok" when the last round had no failed check, 503
// with the failed lines otherwise (or before the first round) — a probe
// can alert on it without Prometheus.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(m.cfg.Logger.Handler(), slog.LevelError), Timeout: 10 * time.Second}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		rep := m.Last()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case rep == nil:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "no round completed yet")
		case !rep.OK():
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, x := range rep.Failed() {
				fmt.Fprintln(w, x.Line())
			}
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	return mux
}

// Start runs a round now and then every Interval, on one goroutine, until
// Shutdown or ctx ends. OnRound, when non-nil, receives each report (and
// the round's error) on that goroutine.
func (m *Monitor) Start(ctx context.Context, onRound func(*Report, error)) {
	m.startOnce.Do(func() {
		ctx, m.cancel = context.WithCancel(ctx)
		m.done = make(chan struct{})
		go func() {
			defer close(m.done)
			t := time.NewTicker(m.cfg.Interval)
			defer t.Stop()
			for {
				rep, err := m.Round(ctx)
				if ctx.Err() != nil {
					return
				}
				if onRound != nil {
					onRound(rep, err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	})
}

// Shutdown stops the loop: a round in progress is abandoned (its HTTP
// requests are cancelled; the state file keeps the previous round's
// content), and Shutdown returns once the goroutine has ended, or with
// ctx's error if ctx ends first.
func (m *Monitor) Shutdown(ctx context.Context) error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("monitor: shutdown: %w", ctx.Err())
	}
}
