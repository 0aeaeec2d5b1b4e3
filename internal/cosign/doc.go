// Package cosign verifies witness cosignatures on fixtap's checkpoints and
// decides whether a witness policy is met. It does no I/O: the offline
// verifier (internal/verify) and the cosigning loop (internal/witness) both
// use it, so it imports only the standard library and
// golang.org/x/mod/sumdb/note.
//
// Cosignatures are C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature)
// Ed25519 "cosignature/v1" note signatures: a signature line
//
//	— <witness key name> base64(key ID ‖ timestamp(8, big-endian) ‖ Ed25519 signature(64))
//
// appended to the checkpoint's signed note after the log's own signature.
// The key ID is SHA-256(<name> ‖ "\n" ‖ 0x04 ‖ 32-byte public key)[:4]; the
// signed message is
//
//	cosignature/v1\n
//	time <timestamp, ASCII decimal>\n
//	<the whole checkpoint body, without signature lines>
//
// A witness key is written as a C2SP signed-note vkey
// "<name>+<key ID hex>+<base64(0x04 ‖ public key)>" ([NewVerifier]).
//
// A witness policy ([ParsePolicy]) names the witnesses and the quorum
// fixtap requires, in the Sigsum policy format as tessera's
// NewWitnessGroupFromPolicy reads it: witness keys are type-0x04 vkeys.
// [Policy.Check] opens a cosigned checkpoint with the log's key and the
// policy's witness keys and says who cosigned and whether that is enough.
package cosign
