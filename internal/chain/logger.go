package chain

import (
	"fmt"
	"log/slog"
	"sync/atomic"
)

// pebbleLogger is the Pebble Logger of the log.
//
// Pebble calls Fatalf when its commit pipeline fails (a WAL write or fsync
// error, a full disk) and then CONTINUES as if the commit had succeeded
// (db.go: "pebble: fatal commit error"). A Fatalf that returns therefore
// turns a lost write into an acknowledged one. Ours never returns: it stops
// the log, hands the error to Config.Fatal — which in fixtap's main exits the
// process — and, should that return (tests), panics with a fatalPanic that
// only the log's own goroutines recover.
type pebbleLogger struct {
	log   *slog.Logger
	fatal func(error)
	err   atomic.Pointer[error] // the first fatal error
}

type fatalPanic struct{ err error }

func (l *pebbleLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l *pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l *pebbleLogger) Fatalf(format string, args ...any) {
	err := fmt.Errorf("chain: pebble fatal: "+format, args...)
	l.log.Error(err.Error(), "component", "pebble", "fatal", true)
	l.err.CompareAndSwap(nil, &err)
	l.fatal(err)
	panic(fatalPanic{err})
}
