// Package replica publishes fixtap's log to N S3-compatible object stores
// (AWS S3, Google Cloud Storage, Ceph RGW, MinIO, …; any vendor, so that
// independent operators can each hold a copy) in the C2SP tlog-tiles
// layout, written by fixtap itself (docs/replication.md).
//
// Under a bucket and an optional key prefix, each replica holds (paths from
// tessera's api/layout):
//
//	checkpoint                  the newest published checkpoint note (the
//	                            sealer's, or the witness's cosigned one);
//	                            mutable, written last in every round
//	tile/<L>/<N>[.p/<W>]        hash tiles of height 8, tlog.ReadTileData
//	                            over the sealer's stored hashes
//	tile/entries/<N>[.p/<W>]    entry bundles: per entry a big-endian uint16
//	                            length (32) and the raw 32-byte EventHash of
//	                            that seq, so SHA-256(0x00 ‖ entry) is the
//	                            RFC 6962 leaf and any tlog-tiles client
//	                            (tessera fsck, client.ProofBuilder) reads it
//	fixtap/events/<N>[.p/<W>]   the same index range as the entry bundle,
//	                            the full events: one line each, byte for
//	                            byte as `fixtap export` writes events.jsonl
//	                            (export.AppendEventLine), "\n"-terminated
//
// Every object but the checkpoint is immutable: written with a conditional
// create (If-None-Match: *) and its SHA-256 (x-amz-checksum-sha256, checked
// by the store and compared when echoed). Partial tiles and bundles are
// immutable at their own .p/<W> paths; when one grows, the wider or full one
// is written beside it. A 412 answer is read back: the same bytes are a
// repeated write (after a crash, or a lost answer) and fine; other bytes
// are a *ConflictError — OnAlarm, and that store is no longer written until
// the replicator is restarted. Evidence is never overwritten.
//
// A round, per store, from what the store holds (stored size d) to the
// published size n: steps of at most Config.StepEntries entries, each
// uploading the entry and events bundles overlapping the step and the
// tiles tlog.NewTiles(8, from, to), Config.Parallel at a time, then storing
// the progress with the step's receipts in one synced Pebble batch; then
// the checkpoint object; then delivered = n with its receipt. A tree size
// is delivered (Replicator.Delivered) when Config.Quorum stores hold it
// completely, checkpoint object included.
//
// Replication runs behind the seal, one goroutine per store, and only
// reads the log and the tree: a store that is down or slow never slows
// ingest. A failing store is retried with exponential backoff and jitter;
// OnFailure is called once per outage episode and OnRecover when it
// succeeds again; its backlog is then caught up step by step.
//
// Memory: per store, at most Config.Parallel objects in flight and one
// being built (an events bundle is 256 events, ~200 KB), plus 16 MiB of
// built objects shared between the stores; stores asking for the same
// bundle together wait for one build of it.
//
// CPU: each object is hashed once (its SHA-256 is the checksum header and
// SigV4's payload hash). PUTs and GETs go through aws-sdk-go-v2's S3
// client; its per-request middleware stack is most of a PUT's client CPU
// (BenchmarkPut). Connections are kept alive for the next request when the
// store allows it.
//
// Replicator.Audit reads back every immutable object a store has a receipt
// for and reports those whose bytes changed or that are gone
// (*AuditError); it repairs nothing. Status reports each store's delivered
// size, lag and outage; Receipts reads the receipts back.
//
// Keys, in the chain's DB under chain.PrefixReplica ('p'; reserved in
// internal/chain/keys.go), with id = the first 8 bytes of SHA-256 of the
// store's name:
//
//	'p' + id(8) + 0x00               the store's state: version byte 1 ‖
//	                                 JSON (uploaded and delivered sizes, the
//	                                 delivered root and note hash, where the
//	                                 store is, the next receipt counter)
//	'p' + id(8) + 0x01 + counter(8)  a receipt: version byte 1 ‖ JSON Receipt
//	                                 (endpoint, bucket, key, size, SHA-256,
//	                                 ETag, echoed checksum, request id, the
//	                                 store's Date, tree size)
//
// Integers are big-endian; records are decoded strictly (DecodeReceipt).
package replica
