// Package witness gets fixtap's checkpoints cosigned by transparency-log
// witnesses over C2SP tlog-witness (https://c2sp.org/tlog-witness), e.g.
// litewitness, and keeps the cosigned checkpoints.
//
// [Client] is the protocol: add-checkpoint with the old size, a consistency
// proof and the signed checkpoint; a 200 returns cosignature lines
// ([Accept] verifies them), a 409 the witness's size ([ConflictError]),
// 422/403/404 a refusal ([RefusedError]) that is an alarm.
//
// The [Cosigner] follows the sealer, sends each newest checkpoint to the
// witnesses of a cosign.Policy, and once their cosignatures meet the
// quorum stores the cosigned note under 'w' + tree size(8) in the chain's
// DB (version byte 1 ‖ note; see store.go) and publishes it: that note,
// not the bare checkpoint, is what replicas serve as their checkpoint and
// what RFC 3161 anchors time-stamp. [Reader] reads the stored records for
// export and verification tooling, on a read-only log too.
package witness
