package index

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openLog opens (creating) a real Pebble log in dir.
func openLog(t testing.TB, dir string) *chain.Log {
	t.Helper()
	cfg := chain.DefaultConfig(dir)
	cfg.Logger = quiet()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func closeLog(t testing.TB, l *chain.Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// testConfig is DefaultConfig with a quiet logger and small rounds, so that
// a few hundred events take several rounds.
func testConfig() Config {
	c := DefaultConfig()
	c.Logger = quiet()
	c.MaxRound = 16
	c.Interval = time.Millisecond
	return c
}

// buildFIX frames the "tag=value" body fields (from 35=) with a correct
// BodyLength and CheckSum.
func buildFIX(begin string, fields ...string) []byte {
	var body bytes.Buffer
	for _, f := range fields {
		body.WriteString(f)
		body.WriteByte(1)
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "8=%s\x019=%d\x01", begin, body.Len())
	msg.Write(body.Bytes())
	var sum uint
	for _, b := range msg.Bytes() {
		sum += uint(b)
	}
	fmt.Fprintf(&msg, "10=%03d\x01", sum%256)
	return msg.Bytes()
}

// msg describes one inbound FIX message of a test log.
type msg struct {
	session string
	trace   string // the TraceID the tap would have given it
	ts      int64  // capture time, ns
	fields  []string
}

var ids = chain.NewIDGen()

// entry maps m through fixmap, as the tap does, into a log entry.
func entry(t testing.TB, m msg, msgSeqNum int) *chain.Entry {
	t.Helper()
	f := append([]string{"35=" + m.fields[0], "49=VENUE", "56=TAP", "34=" + strconv.Itoa(msgSeqNum), "52=20250106-08:15:23.456"}, m.fields[1:]...)
	raw := buildFIX("FIX.4.4", f...)
	mc := fixmap.DefaultConfig()
	mc.AccountSecret = []byte("fixtap-index-test-secret-0001")
	mp, err := mc.MapBytes(raw, m.session, fixmap.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mp.Type == chain.ERR {
		t.Fatalf("%v maps to ERR: %s", m.fields, mp.Payload.ErrorDetails.ErrorMessage)
	}
	code, _ := mp.Type.Code()
	return &chain.Entry{
		Header: chain.Header{
			EventID: ids.New(m.ts).String(), TraceID: m.trace,
			TimestampInt: strconv.FormatInt(m.ts, 10),
			TimestampISO: time.Unix(0, m.ts).UTC().Format("2006-01-02T15:04:05.000000000Z"),
			EventType:    mp.Type, EventTypeCode: code, TimestampPrecision: chain.PrecisionNanosecond,
			ClockSyncStatus: chain.Unreliable, HashAlgo: chain.HashAlgoSHA256, Symbol: mp.Symbol, AccountID: mp.AccountID,
		},
		Payload: mp.Payload,
		Raw:     raw,
	}
}

// appendAll appends ms in order and waits until all are durable; it returns
// the seq of the first.
func appendAll(t testing.TB, l *chain.Log, ms []msg) uint64 {
	t.Helper()
	first := l.Durable()
	for i, m := range ms {
		if err := l.Append(context.Background(), entry(t, m, int(first)+i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return first
}

// startIndexer starts an Indexer and waits until it has indexed everything
// durable.
func startIndexer(t testing.TB, l *chain.Log, cfg Config) *Indexer {
	t.Helper()
	ix, err := New(context.Background(), l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, ix, l.Durable())
	return ix
}

func waitIndexed(t testing.TB, ix *Indexer, size uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ix.Watermark() < size {
		select {
		case <-ctx.Done():
			t.Fatalf("indexer at %d after 30s, want %d", ix.Watermark(), size)
		case <-time.After(time.Millisecond):
		}
	}
}

func shutdown(t testing.TB, ix *Indexer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ix.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// events decodes every durable event the long way (chain's own decoder),
// the reference the lookups are checked against.
func events(t testing.TB, l *chain.Log) []*chain.Event {
	t.Helper()
	var es []*chain.Event
	if err := l.Range(0, l.Durable(), func(r *chain.Record) error {
		e, err := r.Event()
		es = append(es, e)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return es
}

// where returns the seqs of the events for which pred holds.
func where(es []*chain.Event, pred func(*chain.Event) bool) []uint64 {
	var out []uint64
	for i, e := range es {
		if pred(e) {
			out = append(out, uint64(i))
		}
	}
	return out
}

func sessionOf(e *chain.Event) string {
	switch {
	case e.Payload.FIX != nil:
		return e.Payload.FIX.SessionID
	case e.Payload.TapSession != nil:
		return e.Payload.TapSession.SessionID
	}
	return ""
}

func equal(t testing.TB, what string, got, want []uint64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
