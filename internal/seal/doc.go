// Package seal turns fixtap's chain into evidence a third party can check:
// one RFC 6962 Merkle tree over the whole log, kept in the chain's Pebble DB,
// and C2SP tlog-checkpoint signed notes over it, with inclusion and
// consistency proofs (docs/vcp-profile.md §3).
//
// The tree (RFC 6962 §2.1, as Certificate Transparency):
//
//	leaf i   = SHA-256(0x00 ‖ raw 32-byte EventHash of seq i)
//	node     = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two < n
//	MTH({})  = SHA-256()  (the empty tree)
//
// Its hashes are stored as golang.org/x/mod/sumdb/tlog lays them out
// (tlog.StoredHashes), so a tree of n leaves holds tlog.StoredHashCount(n)
// hashes and any root or proof is a handful of point reads.
//
// Keys, in the chain's DB (the prefixes are reserved in internal/chain/keys.go):
//
//	't' + tlog.StoredHashIndex(8)   a stored tree hash (32 bytes)
//	't'                             the tree size those hashes cover (uint64);
//	                                one byte long, so no 9-byte index key
//	                                can equal it
//	'c' + tree size(8)              a checkpoint record (checkpoint.go)
//	'a' + tree size(8) + TSA id(8)  an anchor record (anchorer.go)
//
// All integers are big-endian. The hashes of a round and the new tree size
// are written in one Pebble batch, so the size never claims a hash that is
// not there.
//
// The [Sealer] is one goroutine behind the ingest path. It follows the
// chain's durable watermark — the tree never covers an event whose WAL write
// is not fsync'd — and cuts a checkpoint every [Config.Interval] while the
// tree grows. Before it signs a checkpoint it proves the new tree consistent
// with the latest stored one (tlog.ProveTree, tlog.CheckTree); if that ever
// fails it stops with an [*InconsistentError] rather than sign two
// histories.
//
// Anchors (RFC 3161): [TimestampRequest] asks a TSA to time-stamp
// SHA-256 of the exact signed checkpoint note; [VerifyTimestampResponse]
// checks everything timestamp.ParseResponse does not (imprint, nonce,
// chain to the configured roots, critical timeStamping EKU, ESSCertIDv2,
// time window); the [Anchorer] does this per TSA at the tier's cadence,
// with backoff, one failure report per episode, and stores an
// [AnchorRecord].
package seal
