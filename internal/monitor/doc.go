// Package monitor watches the replicas of fixtap's log from the outside:
// an independent process (`fixtap monitor`) that reads them over plain
// HTTP(S) GETs only — the C2SP tlog-tiles layout plus fixtap's events
// extension (docs/replication.md) — and says, a round at a time, whether
// they still hold the evidence. It links no storage engine and none of the
// tap's packages (a test enforces it): it trusts only the log's checkpoint
// key, the witness policy and what it verified itself before.
//
// The checks of a round, each a named result per replica (and one for the
// log as a whole), printed as one greppable line —
//
//	fixtap-monitor check=<check> replica=<url> status=<ok|warn|fail|skip> size=<n> detail="…"
//
// — and exported as Prometheus metrics:
//
//  1. checkpoint: the replica's checkpoint is a C2SP tlog-checkpoint signed
//     note carrying a valid signature by the log's key, with the expected
//     origin (tlog-tiles "Checkpoints"), and its tlog-cosignature
//     cosignatures meet the witness policy (internal/cosign).
//  2. consistent: it is consistent with the last checkpoint the monitor
//     verified (the state file): same size, same root; larger, an RFC 6962
//     consistency proof built from the replica's own tiles; smaller, a proof
//     from another replica's tiles (the replica is behind). A replica that
//     serves a smaller tree than it served before is a rollback.
//  3. agree: every replica against the largest verified tree: same size,
//     same root (else a split view); smaller, a consistency proof (the
//     replica is "behind": a warning, until the cadence check fails it).
//  4. data: the entries of the new range re-hash to the level-0 tiles
//     (tlog-tiles "Log entries"), the tiles prove up to the signed root
//     (each full tile to its parent, the rightmost tiles to the root), and
//     every line of the fixtap/events bundles hashes to the entry at its
//     index (EventHash recomputed from the line's bytes, PrevHash linked).
//     A sweep re-checks a few older bundles each round, so later damage to
//     old data is found too; Config.Full checks everything once.
//  5. cadence: the newest checkpoint is younger than MaxAge (the tier's
//     "at least hourly"): by its newest cosignature's timestamp, a
//     witness's word, when it has one; else since the monitor first saw
//     the replica at that size.
//  6. silence: during a configured trading window, no FIX-derived event
//     (one carrying Payload.FIX) for longer than Silence is an alert — the
//     pattern of a venue outage, during which the tap's own SNC clock
//     events still arrive every minute, so tree growth alone proves
//     nothing. Time here is log time (capture times of the events).
//
// A replica that cannot be read — an HTTP error, a 404 on an object the
// checkpoint requires — fails the check that needed the object, with a
// *FetchError naming the URL and the status. Every failure carries a typed
// error with its evidence (URLs, sizes, both roots): *CheckpointError,
// *InconsistentError, *RollbackError, *MismatchError, *StaleError,
// *SilenceError, *FetchError.
//
// Partial tiles and bundles: tlog-tiles lets a log delete a partial tile
// once the full one exists; the monitor then reads the full one and uses
// its prefix. The replicator keeps partial objects, so this is not hit in
// practice, and a deleted object whose full version is also absent fails.
//
// State (State, SaveState): the last verified checkpoint per origin, as
// the signed note (verified again with the log key when loaded), and per
// replica the size it served, since when, how far its data is verified and
// where the sweep is — written after every round, crash-safely. Without a
// state the first checkpoint is trusted on first use and only its last
// bundle is checked at once (or everything, with Full); the sweep covers
// the rest over time.
//
// Private buckets: with SigV4 set, every GET is signed with AWS Signature
// Version 4 (service s3) — still a plain GET of the object's URL.
//
// Metrics (the Monitor's own registry, Handler's GET /metrics):
//
//	fixtap_monitor_check_ok{replica,check}             1 when the check held in the last round (ok or warn)
//	fixtap_monitor_check_failures_total{replica,check} rounds in which the check failed
//	fixtap_monitor_tree_size{replica}                  the replica's verified tree size
//	fixtap_monitor_checkpoint_age_seconds{replica}     the cadence check's age
//	fixtap_monitor_behind_entries{replica}             entries behind the largest verified tree
//	fixtap_monitor_verified_size{replica}              entries whose data is verified
//	fixtap_monitor_fix_silence_seconds                 log time since the newest FIX-derived event
//	fixtap_monitor_in_window                           1 when log time is in a trading window
//	fixtap_monitor_ok                                  1 when no check failed in the last round
//	fixtap_monitor_rounds_total                        rounds completed
//	fixtap_monitor_last_round_timestamp_seconds        when the last round started
//	fixtap_monitor_round_duration_seconds              how long it took
//
// GET /healthz answers 200 "ok" when the last round had no failure, and
// 503 with the failed lines otherwise.
package monitor
