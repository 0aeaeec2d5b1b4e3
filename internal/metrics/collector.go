package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixtap/fixtap/internal/chain"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dLoggedOn = desc("fixtap_session_logged_on", "1 while the FIX session is logged on.", "session")
	dLastIn   = desc("fixtap_session_last_msgseqnum_in", "MsgSeqNum of the last inbound message recorded.", "session")
	dLastOut  = desc("fixtap_session_last_msgseqnum_out", "MsgSeqNum of the last message the tap sent (session-level only).", "session")
	dMessages = desc("fixtap_session_messages_total", "Inbound messages recorded as events.", "session")
	dResends  = desc("fixtap_session_resends_total", "Inbound messages marked PossDup=Y (resent by the counterparty).", "session")
	dGaps     = desc("fixtap_session_gaps_total", "Sequence gaps detected (an inbound MsgSeqNum above the expected one).", "session")
	dRejects  = desc("fixtap_session_rejects_total", "Inbound messages the engine rejected or could not parse (ERR_REJECT, ERR_PARSE events).", "session")

	dAppended = desc("fixtap_chain_appended_total", "Events written to the log: its size, durable or not.")
	dDurable  = desc("fixtap_chain_durable_watermark", "The durable watermark: every event below it is fsync'd.")
	dSigned   = desc("fixtap_chain_signed_watermark", "Events whose signature is stored.")
	dStalls   = desc("fixtap_chain_write_stalls_total", "Pebble write stalls since start.")
	dStopped  = desc("fixtap_chain_stopped", "1 once storage failed and the log stopped.")
	dLatency  = desc("fixtap_chain_commit_latency_seconds", "Group commit latency: the committer taking a group to the group being durable.")

	dClockStatus = desc("fixtap_clock_status", "1 for the clock's current status (as events are stamped now), 0 for the others.", "status")
	dClockError  = desc("fixtap_clock_max_error_seconds", "The current status's bound on the clock's error; absent when no source measured one.")
	dClockAge    = desc("fixtap_clock_snapshot_age_seconds", "Age of the newest clock measurement.")

	dTree          = desc("fixtap_seal_tree_size", "Leaves in the RFC 6962 tree.")
	dCheckpoint    = desc("fixtap_seal_checkpoint_size", "Tree size of the newest signed checkpoint.")
	dCheckpointAge = desc("fixtap_seal_checkpoint_age_seconds", "Time since the newest checkpoint was cut (since start for one cut before).")
	dAnchorAge     = desc("fixtap_seal_anchor_age_seconds", "Time since the genTime of the TSA's newest anchor; absent before the first.", "tsa")
	dAnchorFailing = desc("fixtap_seal_anchor_failing", "1 while the TSA is failing (retrying with backoff).", "tsa")
	dAnchorFails   = desc("fixtap_seal_anchor_failures_total", "Failure episodes of the TSA since start (one per episode, not per retry).", "tsa")

	dXRefWatermark = desc("fixtap_xref_reconciled_watermark", "The VCP-XREF reconciler's watermark: every log record below it is reconciled.")
	dXRefOutcomes  = desc("fixtap_xref_outcomes_total", "VCP-XREF outcome events appended since start, by ReconciliationStatus.", "status")

	dReplDelivered = desc("fixtap_replica_delivered_tree_size", "Largest tree size that ReplicaQuorum stores hold completely.")
	dReplStore     = desc("fixtap_replica_store_tree_size", "Tree size a replica store holds completely.", "store")
	dReplLag       = desc("fixtap_replica_store_lag_entries", "Published tree size minus what the store holds.", "store")
	dReplDown      = desc("fixtap_replica_store_down", "1 while the store is failing or stopped after an alarm.", "store")
	dCosigned      = desc("fixtap_witness_cosigned_tree_size", "Tree size of the newest checkpoint the witness policy's quorum has cosigned; 0 before the first.")

	dReady = desc("fixtap_ready", "1 while /readyz answers 200.")
)

var clockStatuses = []chain.ClockSyncStatus{chain.PTPLocked, chain.NTPSynced, chain.BestEffort, chain.Unreliable}

// collector exports a Status read at scrape time (an unchecked collector:
// which series exist depends on the sessions and TSAs).
type collector struct{ s *Server }

func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.read()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, s := range st.Sessions {
		gauge(dLoggedOn, b2f(s.LoggedOn), s.Name)
		gauge(dLastIn, float64(s.LastMsgSeqNumIn), s.Name)
		gauge(dLastOut, float64(s.LastMsgSeqNumOut), s.Name)
		counter(dMessages, float64(s.Messages), s.Name)
		counter(dResends, float64(s.Resends), s.Name)
		counter(dGaps, float64(s.Gaps), s.Name)
		counter(dRejects, float64(s.Rejects), s.Name)
	}
	if c.s.cfg.Log != nil {
		counter(dAppended, float64(st.Appended))
		gauge(dDurable, float64(st.Durable))
		gauge(dSigned, float64(st.Signed))
		counter(dStalls, float64(st.WriteStalls))
		gauge(dStopped, b2f(st.LogErr != nil))
		h := st.CommitLatency
		buckets := make(map[float64]uint64, len(h.Cumulative))
		for i, n := range h.Cumulative {
			buckets[chain.CommitLatencyBounds[i].Seconds()] = n
		}
		ch <- prometheus.MustNewConstHistogram(dLatency, h.Count, h.Sum.Seconds(), buckets)
	}
	if c.s.cfg.Clock != nil {
		for _, s := range clockStatuses {
			gauge(dClockStatus, b2f(st.ClockStatus == s), string(s))
		}
		if st.ClockMaxError >= 0 {
			gauge(dClockError, st.ClockMaxError.Seconds())
		}
		gauge(dClockAge, st.ClockAge.Seconds())
	}
	if c.s.cfg.Seal != nil {
		gauge(dTree, float64(st.TreeSize))
		if st.HasCheckpoint {
			gauge(dCheckpoint, float64(st.CheckpointSize))
			gauge(dCheckpointAge, st.CheckpointAge.Seconds())
		}
		for _, a := range st.Anchors {
			if a.Anchored {
				gauge(dAnchorAge, a.Age.Seconds(), redactURL(a.URL))
			}
			gauge(dAnchorFailing, b2f(a.Failing), redactURL(a.URL))
			counter(dAnchorFails, float64(a.Failures), redactURL(a.URL))
		}
	}
	if c.s.cfg.XRef != nil {
		gauge(dXRefWatermark, float64(st.XRefWatermark))
		for i, status := range [3]string{chain.XRefMatched, chain.XRefDiscrepancy, chain.XRefTimeout} {
			counter(dXRefOutcomes, float64(st.XRefOutcomes[i]), status)
		}
	}
	if r := c.s.cfg.Replicator; r != nil {
		gauge(dReplDelivered, float64(r.Delivered()))
		for _, rs := range r.Status() {
			gauge(dReplStore, float64(rs.Delivered), rs.Name)
			gauge(dReplLag, float64(rs.Lag), rs.Name)
			gauge(dReplDown, b2f(rs.Down || rs.Stopped), rs.Name)
		}
	}
	if w := c.s.cfg.Cosigner; w != nil {
		var size uint64
		if cs, err := w.Latest(); err == nil {
			size = cs.Size
		}
		gauge(dCosigned, float64(size))
	}
	gauge(dReady, b2f(c.s.notReady(st) == ""))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
