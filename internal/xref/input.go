package xref

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
)

// keyFields are the VCP-TRADE identifiers a match key may name.
var keyFields = map[string]func(*tradeBlock) string{
	"ClOrdID":         func(t *tradeBlock) string { return t.ClOrdID },
	"ExecID":          func(t *tradeBlock) string { return t.ExecID },
	"ExecRefID":       func(t *tradeBlock) string { return t.ExecRefID },
	"OrderID":         func(t *tradeBlock) string { return t.OrderID },
	"OrigClOrdID":     func(t *tradeBlock) string { return t.OrigClOrdID },
	"SecondaryExecID": func(t *tradeBlock) string { return t.SecondaryExecID },
	"TradeReportID":   func(t *tradeBlock) string { return t.TradeReportID },
}

// Only what the reconciler reads; the scanner skips the rest.
type headerBlock struct {
	EventID      string `json:"EventID"`
	TraceID      string `json:"TraceID"`
	TimestampInt string `json:"TimestampInt"`
	Symbol       string `json:"Symbol"`
}

type tradeBlock struct {
	OrderID, ClOrdID, OrigClOrdID, ExecID, ExecRefID, SecondaryExecID, TradeReportID string
	Side, Quantity, Price, ExecutedQty, ExecutionPrice                               string
}

// The json tags say what the scanner (scan.go) reads; FuzzScan checks it
// against encoding/json with them.
type payloadBlock struct {
	FIX   *fixBlock   `json:"FIX"`
	Trade *tradeBlock `json:"VCP-TRADE"`
}

type fixBlock struct {
	SessionID   string `json:"SessionID"`
	MsgType     string `json:"MsgType"`
	PossDupFlag bool   `json:"PossDupFlag"`
	Unprocessed bool   `json:"Unprocessed"`
}

// member is where a session sits.
type member struct{ group, side int }

// reader turns log records into engine inputs.
type reader struct {
	groups   []Group
	sessions map[string]member
}

func newReader(groups []Group) *reader {
	r := &reader{groups: groups, sessions: map[string]member{}}
	for gi, g := range groups {
		for _, s := range g.Local {
			r.sessions[s] = member{gi, local}
		}
		for _, s := range g.Counterparty {
			r.sessions[s] = member{gi, counterparty}
		}
	}
	return r
}

var (
	tagTrade = []byte(`"VCP-TRADE"`)
	tagXRef  = []byte(`"VCP-XREF"`)
)

// read parses rec into in. A record that does not parse is corrupt: the
// log stores only what its canonical encoder wrote.
func (r *reader) read(rec *chain.Record, in *input) error {
	*in = input{seq: rec.Seq, group: -1}
	var h headerBlock
	if !scanHeader(rec.Header, &h) {
		return &chain.CorruptRecordError{Seq: rec.Seq, Err: errors.New("xref: header is not a JSON object of the event header")}
	}
	if bytes.Contains(rec.Payload, tagXRef) {
		in.skip = true // ours: where it lands depends on when we ran
		return nil
	}
	ns, err := strconv.ParseInt(h.TimestampInt, 10, 64)
	in.timeNs, in.hasT = ns, err == nil
	if !bytes.Contains(rec.Payload, tagTrade) {
		return nil
	}
	var p payloadBlock
	if !scanPayload(rec.Payload, &p) {
		return &chain.CorruptRecordError{Seq: rec.Seq, Err: errors.New("xref: payload is not a JSON object of the event payload")}
	}
	if p.FIX == nil || p.Trade == nil || p.FIX.Unprocessed {
		return nil
	}
	m, ok := r.sessions[p.FIX.SessionID]
	if !ok {
		return nil
	}
	g := &r.groups[m.group]
	var keys []string
	var kind byte
	switch p.FIX.MsgType {
	case "8":
		keys, kind = g.ExecKeys, keyExec
	case "D", "F", "G":
		keys, kind = g.OrderKeys, keyOrder
	default:
		return nil
	}
	t := p.Trade
	for _, k := range keys {
		if v := keyFields[k](t); v != "" {
			in.group, in.side, in.kind, in.keyVal = m.group, m.side, kind, v
			in.ev = event{EventID: h.EventID, Hash: rec.Hash, TimeNs: ns,
				Session: p.FIX.SessionID, TraceID: h.TraceID, OrderID: t.OrderID, KeyField: k, PossDup: p.FIX.PossDupFlag,
				Fields: [nCompared]string{t.Side, h.Symbol, t.Quantity, t.Price, t.ExecutedQty, t.ExecutionPrice}}
			return nil
		}
	}
	return nil
}

// scanLog calls fn with every event record in [from, to), to at most the
// log's durable size, in seq order (chain.ScanRecords): no copy
// (chain.Log.Range clones each record, ~1.5 KB) and no signature, which
// the reconciler does not use. rec and its slices are valid only during
// fn: read copies what the engine keeps. It is not cancelled, as
// before: the reconciler stops between rounds.
func scanLog(db *pebble.DB, from, to uint64, fn func(rec *chain.Record) error) error {
	return chain.ScanRecords(context.Background(), db, from, to, fn)
}
