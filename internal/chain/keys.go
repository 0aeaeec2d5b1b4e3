package chain

import "encoding/binary"

// The Pebble keyspace of fixtap. One DB holds everything; every key starts
// with a one-byte prefix and integers are big-endian so that byte order is
// numeric order. Prefixes are reserved here even when another package owns
// them, so that no two packages collide.
//
//	'm' + name                          meta: format version, log size
//	'e' + seq(8)                        event record (record.go)
//	's' + seq(8)                        signature record (record.go)
//	'q' + …                             session state (internal/tap)
//	't' + tlog.StoredHashIndex(8)        Merkle tree nodes (internal/seal)
//	'c' + tree size(8)                  checkpoints (internal/seal)
//	'a' + …                             anchors (internal/seal)
//	'x' + …                             derived lookup indexes (internal/index: 'x'+sub-prefix, see its keys.go)
//	'r' + …                             reconciliation watermark and saved state (internal/xref)
//	'w' + tree size(8)                  witness-cosigned checkpoints (internal/witness)
//	'p' + id(8) + 0x00|0x01+n(8)        replica state | upload receipt n; id = SHA-256(store name)[:8] (internal/replica)
const (
	PrefixMeta      = 'm'
	PrefixEvent     = 'e'
	PrefixSignature = 's'
	PrefixSession   = 'q'
	PrefixTree      = 't'
	PrefixCheckpt   = 'c'
	PrefixAnchor    = 'a'
	PrefixIndex     = 'x'
	PrefixXRef      = 'r'
	PrefixCosigned  = 'w'
	PrefixReplica   = 'p'
)

var (
	// keyFormat holds formatName; a DB written by another format is refused.
	keyFormat = []byte("mformat")
	// keyHead holds the log size (uint64): written in every group commit,
	// so a record missing at the tail is detected, not silently forgotten.
	keyHead = []byte("mhead")
)

const formatName = "fixtap-chain/1"

func seqKey(prefix byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, seq)
}

func appendSeqKey(dst []byte, prefix byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, prefix), seq)
}
