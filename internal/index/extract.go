package index

import (
	"errors"
	"strconv"

	"github.com/fixtap/fixtap/internal/chain"
)

// fields are what the index takes from one event.
type fields struct {
	session string
	timeNs  int64
	hasTime bool
	ids     []id // identifier values, without duplicates
}

type id struct {
	kind  Kind
	value string
}

// Only the fields the index needs; encoding/json skips the rest.
type header struct {
	TraceID      string `json:"TraceID"`
	TimestampInt string `json:"TimestampInt"`
}

type tradeIDs struct {
	OrderID     string `json:"OrderID"`
	ClOrdID     string `json:"ClOrdID"`
	OrigClOrdID string `json:"OrigClOrdID"`
	ExecID      string `json:"ExecID"`
	Sides       []side `json:"Sides"`
}

type side struct {
	OrderID string `json:"OrderID"`
	ClOrdID string `json:"ClOrdID"`
}

// The json tags say what the scanner reads; FuzzScan checks it against
// encoding/json with them.
type payload struct {
	FIX        *sessionRef `json:"FIX"`
	TapSession *sessionRef `json:"TapSession"`
	Trade      *tradeIDs   `json:"VCP-TRADE"`
}

type sessionRef struct {
	SessionID string `json:"SessionID"`
}

// extract parses r's Header and Payload (the exact JCS bytes the log
// hashed) into f with the scanner (scan.go), reusing f's storage. A record
// that does not parse is corrupt: the log only stores what its canonical
// encoder wrote.
func extract(r *chain.Record, f *fields) error {
	var h header
	var p payload
	if !scanHeader(r.Header, &h) {
		return &chain.CorruptRecordError{Seq: r.Seq, Err: errors.New("index: header is not a JSON object of the event header")}
	}
	if !scanPayload(r.Payload, &p) {
		return &chain.CorruptRecordError{Seq: r.Seq, Err: errors.New("index: payload is not a JSON object of the event payload")}
	}
	f.session, f.timeNs, f.hasTime, f.ids = "", 0, false, f.ids[:0]
	switch {
	case p.FIX != nil:
		f.session = p.FIX.SessionID
	case p.TapSession != nil:
		f.session = p.TapSession.SessionID
	}
	// A TimestampInt that does not parse (the chain checks only that it is
	// present) puts the event in no time range.
	if ns, err := strconv.ParseInt(h.TimestampInt, 10, 64); err == nil {
		f.timeNs, f.hasTime = ns, true
	}
	f.add(TraceID, h.TraceID)
	if t := p.Trade; t != nil {
		f.add(OrderID, t.OrderID)
		f.add(ClOrdID, t.ClOrdID)
		f.add(ClOrdID, t.OrigClOrdID)
		f.add(ExecID, t.ExecID)
		for _, s := range t.Sides {
			f.add(OrderID, s.OrderID)
			f.add(ClOrdID, s.ClOrdID)
		}
	}
	return nil
}

// add appends a non-empty value not yet present (two keys for one value
// would be the same key; a lookup must not count the event twice).
func (f *fields) add(k Kind, v string) {
	if v == "" {
		return
	}
	for _, x := range f.ids {
		if x.kind == k && x.value == v {
			return
		}
	}
	f.ids = append(f.ids, id{k, v})
}

// has reports whether f holds value v of kind k.
func (f *fields) has(k Kind, v string) bool {
	for _, x := range f.ids {
		if x.kind == k && x.value == v {
			return true
		}
	}
	return false
}

// appendKeys appends f's index keys for seq to dst, calling set for each.
func (f *fields) keys(buf []byte, seq uint64, set func(k []byte)) []byte {
	for _, x := range f.ids {
		buf = appendValueKey(buf[:0], x.kind, x.value, f.session, seq)
		set(buf)
	}
	if f.session != "" {
		buf = appendSessionKey(buf[:0], f.session, seq)
		set(buf)
	}
	if f.hasTime {
		buf = appendTimeKey(buf[:0], f.timeNs, seq)
		set(buf)
	}
	return buf
}
