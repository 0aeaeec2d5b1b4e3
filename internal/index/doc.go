// Package index builds and reads fixtap's derived lookup indexes: an
// order's events by ClOrdID, OrigClOrdID, OrderID, ExecID and TraceID, a
// session's events, and events by capture time, so that exports and
// `fixtap show` need not scan the whole log.
//
// The index lives in the log's Pebble DB under chain.PrefixIndex ('x'); the
// layout is in keys.go. It is built behind the log, never in the
// acknowledged batch (docs/design: random-key indexes in the committer's
// batch cut ingest several-fold): an Indexer goroutine indexes durable
// events from a watermark, in rounds, without fsync. After a crash the
// watermark is wherever the last round that reached the disk left it, and
// the Indexer resumes from there.
//
// Lookups (Order, ByKey, Session, SessionLast, Sessions, TimeRange) read
// the index below its watermark and scan the records above it, so they are
// complete over every durable event whether the Indexer is running, lagging
// or was never started. They work on any *chain.Log.
package index
