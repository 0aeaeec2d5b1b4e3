package tap

import (
	"encoding/binary"

	"github.com/fixtap/fixtap/internal/chain"
)

// Session state keys, under chain.PrefixSession:
//
//	'q' + uvarint len + session name + 'i'                  next expected incoming MsgSeqNum (uint64)
//	'q' + uvarint len + session name + 'o'                  next outgoing MsgSeqNum (uint64)
//	'q' + uvarint len + session name + 't'                  creation time (int64 ns)
//	'q' + uvarint len + session name + 'e'                  epoch (uint64): bumps on every sequence reset
//	'q' + uvarint len + session name + 'x' + epoch + seqnum log seq of the event of that MsgSeqNum
//
// The length prefix keeps one session's keys from being a prefix of
// another's.
const (
	fieldIn    = 'i'
	fieldOut   = 'o'
	fieldCTime = 't'
	fieldEpoch = 'e'
	fieldIndex = 'x'
)

func sessionPrefix(name string) []byte {
	b := []byte{chain.PrefixSession}
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

func fieldKey(prefix []byte, f byte) []byte {
	return append(append([]byte(nil), prefix...), f)
}

func indexKey(prefix []byte, epoch uint64, msgSeqNum int) []byte {
	k := make([]byte, 0, len(prefix)+1+8+8)
	k = append(append(k, prefix...), fieldIndex)
	k = binary.BigEndian.AppendUint64(k, epoch)
	return binary.BigEndian.AppendUint64(k, uint64(msgSeqNum))
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
