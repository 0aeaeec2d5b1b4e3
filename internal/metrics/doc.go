// Package metrics is a running tap's monitoring endpoint: Prometheus
// metrics, /healthz, /readyz and a small read-only status page, on the
// session file's MetricsAddress.
//
// Nothing here runs per message. Every value is read at scrape time from
// what the tap, the chain, the sealer and the clock already keep — the
// sessions' atomic counters (tap.Stats), the log's watermarks and its
// commit-latency histogram (updated once per group commit), the newest
// checkpoint and clock snapshot, the reconciler's watermark and totals —
// or from SealState, which the sealer and
// the anchorer update once per checkpoint and per anchor. The metrics live
// in the Server's own registry, not Prometheus' global one, so several taps
// (tests) can run in one process.
//
// Metric names (labels in braces):
//
//	fixtap_session_logged_on{session}            1 while the session is logged on
//	fixtap_session_last_msgseqnum_in{session}    MsgSeqNum of the last inbound message recorded
//	fixtap_session_last_msgseqnum_out{session}   MsgSeqNum of the last message the tap sent
//	fixtap_session_messages_total{session}       inbound messages recorded as events
//	fixtap_session_resends_total{session}        inbound PossDup=Y messages
//	fixtap_session_gaps_total{session}           sequence gaps detected (a resend asked for)
//	fixtap_session_rejects_total{session}        inbound messages rejected or unparseable
//	fixtap_chain_appended_total                  events written to the log (its size)
//	fixtap_chain_durable_watermark               events fsync'd: every seq below is on disk
//	fixtap_chain_signed_watermark                events whose signature is stored
//	fixtap_chain_write_stalls_total              Pebble write stalls
//	fixtap_chain_stopped                         1 once storage failed (the process then exits)
//	fixtap_chain_commit_latency_seconds          histogram: group commit taken → durable
//	fixtap_clock_status{status}                  1 for the current status, 0 for the others
//	fixtap_clock_max_error_seconds               the status's error bound (absent when unknown)
//	fixtap_clock_snapshot_age_seconds            age of the newest clock measurement
//	fixtap_seal_tree_size                        leaves in the RFC 6962 tree
//	fixtap_seal_checkpoint_size                  tree size of the newest checkpoint
//	fixtap_seal_checkpoint_age_seconds           since the newest checkpoint was cut
//	fixtap_seal_anchor_age_seconds{tsa}          since the newest anchor's genTime
//	fixtap_seal_anchor_failing{tsa}              1 while a TSA is failing
//	fixtap_seal_anchor_failures_total{tsa}       failure episodes of a TSA (not retries)
//	fixtap_xref_reconciled_watermark             every log record below it is reconciled (VCP-XREF)
//	fixtap_xref_outcomes_total{status}           VCP-XREF outcomes appended since start, by status
//	fixtap_replica_delivered_tree_size           tree size ReplicaQuorum stores hold (with Replica1…)
//	fixtap_replica_store_tree_size{store}        tree size one store holds
//	fixtap_replica_store_lag_entries{store}      published tree size minus what the store holds
//	fixtap_replica_store_down{store}             1 while the store fails or is stopped after an alarm
//	fixtap_witness_cosigned_tree_size            newest checkpoint the witness quorum cosigned (with WitnessPolicyFile)
//	fixtap_ready                                 1 while /readyz answers 200
//
// plus the Go runtime's and the process's standard collectors.
package metrics
