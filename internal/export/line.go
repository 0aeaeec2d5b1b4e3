package export

import (
	"encoding/hex"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// AppendEventLine appends r as one line of an events file (docs/bundle.md,
// events.jsonl), "\n" included:
//
//	{"Header":…,"Payload":…,"Security":…}
//
// Header and Payload are the stored bytes, exactly as hashed; Security is
// the record's (RFC 8785 form) with MerkleIndex = r.Seq and MerkleRoot =
// hex(root), root being that of the first checkpoint covering the event
// (both lie outside the EventHash, docs/vcp-profile.md §9d). The export's
// events.jsonl and the replicas' fixtap/events bundles (internal/replica)
// hold exactly these bytes.
func AppendEventLine(dst []byte, r *chain.Record, root tlog.Hash) ([]byte, error) {
	sec := r.Security()
	idx := int64(r.Seq)
	sec.MerkleIndex = &idx
	sec.MerkleRoot = hex.EncodeToString(root[:])
	dst = append(dst, `{"Header":`...)
	dst = append(dst, r.Header...)
	dst = append(dst, `,"Payload":`...)
	dst = append(dst, r.Payload...)
	dst = append(dst, `,"Security":`...)
	dst, err := chain.AppendCanonical(dst, &sec)
	if err != nil {
		return dst, fmt.Errorf("export: seq %d: %w", r.Seq, err)
	}
	return append(dst, "}\n"...), nil
}
