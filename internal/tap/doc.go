// Package tap is fixtap's FIX session layer: the quickfix Application and
// the Pebble-backed quickfix MessageStore that turn every inbound FIX
// message into one durable event of the chain, without ever disturbing the
// session it listens to.
//
// The no-loss rule (docs/architecture.md): quickfix advances a session's
// incoming MsgSeqNum only after FromApp/FromAdmin returns nil. The tap
// appends the message's event with a chain.Entry.Also hook that writes the
// session's next-expected MsgSeqNum into the same Pebble batch, so whatever a
// crash loses, it loses event and counter together, and on reconnect the
// engine asks the counterparty to resend. The store's Incr only moves its
// in-memory copy; counter changes quickfix makes on its own (resets, gap
// fills) reach Pebble through the chain's committer (Log.Write), in order
// with the events around them.
//
// Passive: ToApp refuses every application message (quickfix.DoNotSend), and
// a storage failure is never answered with a FIX reject — the callback
// blocks until the tap stops (the chain's Config.Fatal ends the process).
package tap
