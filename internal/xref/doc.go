// Package xref reconciles the firm's copy of its executions against the
// counterparty's drop copy (VCP v1.1 §5.6, VCP-XREF "dual logging";
// docs/vcp-profile.md §9 (l)). It runs behind the log's durable watermark,
// never on the ingest path: it reads the events the tap recorded from the
// sessions of each reconciliation group, pairs them by the group's match
// keys and appends one AUD event per outcome — MATCHED, DISCREPANCY (with
// the fields that differ) or TIMEOUT (the other side never came).
//
// # Cost, and what keeps it off ingest's processor
//
// Per pair the Reconciler reads three records straight from Pebble (the
// two events, and its own outcome, which it skips), scans their headers
// and the events' payloads (internal/jscan), and appends one outcome
// through the log's committer; every SnapshotEvery records it saves its
// state (state.go: ~9 MB at 65,536 keys). BenchmarkReconcile measures it
// alone.
//
// It never holds ingest up: it reads only durable records, and its
// outcomes wait in the committer's queue behind the appenders' (Append
// blocks while the queue is full). What it can take from ingest is
// processor time, when ingest is bound by the processor rather than by the
// committer — sessions parsing and mapping their messages. MaxBusy caps
// its rounds at a share of one core: behind a saturated ingest it lags,
// and it catches up when ingest slows (Shutdown's catch-up is not capped).
// The default, 50 %, is internal/index's Indexer's: together they leave
// ingest at least one of two cores, and the Reconciler still keeps up with
// ~20k pairs/s. BenchmarkIngest compares ingest with and without it; on 2
// vCPU, a processor-bound ingest (BenchmarkIngest/mapped) lost a median
// 17 % with no cap, 8 % at 50, 6 % at 25 (paired rounds, noisy: see
// docs/performance.md), and a committer-bound one (prebuilt) nothing
// measurable.
//
// On shared cores, compare the variants in alternation, each run its own
// process, and take the median of the per-round ratios
// (scripts/ab-ingest.sh does exactly that):
//
//	scripts/ab-ingest.sh 11 400000 mapped/no-reconciler mapped/reconciler-maxbusy=50
package xref
