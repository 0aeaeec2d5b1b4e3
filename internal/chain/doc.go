// Package chain is fixtap's event model and its append-only, hash-chained,
// signed log in Pebble.
//
// The profile is docs/vcp-profile.md (fixtap-vcp/1). In short:
//
//   - An [Event] is {Header, Payload, Security} with PascalCase keys.
//   - Its canonical form is RFC 8785 (JCS); every financial number and the
//     nanosecond timestamp are strings, so canonicalization never meets a
//     number JCS cannot carry exactly.
//   - EventHash = lowercase hex SHA-256( JCS(Header) ‖ JCS(Payload) ‖ PrevHashHex ),
//     with nothing appended for the genesis event (seq 0).
//   - One chain per tap: event n's PrevHash is event n−1's EventHash; log
//     sequence numbers are dense from 0.
//   - Signature = Ed25519 over the raw 32 bytes of EventHash (padded base64);
//     KeyID = hex of the first 8 bytes of SHA-256(raw public key).
//
// The [Log] appends through a single committer goroutine that group-commits
// whatever is queued in one Pebble batch, publishes a durable watermark
// ("every seq < Durable() is fsync'd") for readers outside the ingest path,
// and signs beside the chain: signing never delays durability (see signer.go).
package chain
