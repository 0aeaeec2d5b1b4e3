package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/fixtap/fixtap/internal/chain"
)

// WriteText writes the event for a person: what it is, when and how it was
// captured, every field of its payload blocks, its raw FIX message, its
// hashes and its standing. Values are escaped where they hold control
// characters (Clean); the raw message is shown by Raw.
func (e *Event) WriteText(w io.Writer) error {
	h, p, r, st := &e.Event.Header, &e.Event.Payload, e.Record, &e.Status
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	line("seq", "%d (of %d events in the log)", r.Seq, e.Size)
	line("EventID", "%s", Clean(h.EventID))
	line("EventType", "%s (code %d)", Clean(string(h.EventType)), h.EventTypeCode)
	if h.TraceID != "" {
		line("TraceID", "%s", Clean(h.TraceID))
	}
	line("captured", "%s (TimestampInt %s, %s)", Clean(h.TimestampISO), Clean(h.TimestampInt), Clean(h.TimestampPrecision))
	line("clock", "%s", clockText(h.ClockSyncStatus, p.Clock))
	for _, kv := range [][2]string{{"VenueID", h.VenueID}, {"Symbol", h.Symbol}, {"AccountID", h.AccountID}, {"OperatorID", h.OperatorID}} {
		if kv[1] != "" {
			line(kv[0], "%s", Clean(kv[1]))
		}
	}
	if f := p.FIX; f != nil {
		s := fmt.Sprintf("%s, epoch %d, MsgSeqNum %d, MsgType %s", Clean(f.SessionID), f.Epoch, f.MsgSeqNum, Clean(f.MsgType))
		if n := MsgTypeName(f.MsgType); n != "" {
			s += " (" + n + ")"
		}
		for _, fl := range []struct {
			on   bool
			name string
		}{{f.PossDupFlag, "PossDup"}, {f.AheadOfSequence, "AheadOfSequence"}, {f.Unprocessed, "Unprocessed"}} {
			if fl.on {
				s += ", " + fl.name
			}
		}
		line("FIX", "%s", s)
		if f.SendingTime != "" {
			line("", "SendingTime %s", Clean(f.SendingTime))
		}
		line("", "BeginString %s, RawSHA256 %s", Clean(f.BeginString), Clean(f.RawSHA256))
	}
	// The other blocks, each field on its own line, in the profile's order.
	for _, b := range []struct {
		name string
		v    any
	}{
		{"VCP-TRADE", p.Trade}, {"Session", p.Session}, {"TapSession", p.TapSession},
		{"ErrorDetails", p.ErrorDetails}, {"PolicyIdentification", p.PolicyIdentification},
		{"AnchorRecord", p.AnchorRecord}, {"ClockEvidence", p.ClockEvidence},
	} {
		kvs := flatten(nil, "", reflect.ValueOf(b.v))
		for i, kv := range kvs {
			label := ""
			if i == 0 {
				label = b.name
			}
			if kv[0] == "" {
				line(label, "%s", kv[1])
			} else {
				line(label, "%s %s", kv[0], kv[1])
			}
		}
	}
	if len(r.Raw) > 0 {
		line("raw", "%s", Raw(r.Raw))
	} else {
		line("raw", "none (an event the tap wrote itself)")
	}
	line("EventHash", "%s (%s)", r.Hash, map[bool]string{true: "recomputed from Header, Payload and PrevHash: matches", false: "MISMATCH: recomputed from Header, Payload and PrevHash it differs"}[st.HashOK])
	switch {
	case r.Seq == 0:
		line("PrevHash", "%s (%s)", r.Prev, map[bool]string{true: "genesis: zero, as it must be", false: "GENESIS NOT ZERO"}[st.LinkOK])
	default:
		line("PrevHash", "%s (seq %d's EventHash: %s)", r.Prev, r.Seq-1, map[bool]string{true: "links", false: "BROKEN LINK"}[st.LinkOK])
	}
	line("signature", "%s", sigText(st))
	line("sealed", "%s", sealText(st))
	line("anchored", "%s", anchorText(st))
	return tw.Flush()
}

func clockText(s chain.ClockSyncStatus, c *chain.Clock) string {
	t := Clean(string(s))
	if c == nil {
		return t + " (no clock block)"
	}
	bound := "error bound unknown"
	if c.MaxErrorNs != "" {
		bound = "error bound ±" + Clean(c.MaxErrorNs) + " ns"
	}
	return fmt.Sprintf("%s, %s, source %s, measured %d ms before capture", t, bound, Clean(c.Source), c.SnapshotAgeMs)
}

func sigText(st *Status) string {
	switch st.Signature {
	case SigValid:
		return "Ed25519 by KeyID " + st.KeyID + ": verifies with the configured key"
	case SigInvalid:
		return "Ed25519 by KeyID " + st.KeyID + ": DOES NOT VERIFY with the configured key"
	case SigUnknownKey:
		return "Ed25519 by KeyID " + st.KeyID + ": not the configured key's (a rotated key?), not checked"
	}
	return "none yet (signatures are written beside the chain, just behind it)"
}

func sealText(st *Status) string {
	switch {
	case st.Sealed && !st.ProofOK:
		return fmt.Sprintf("BROKEN: checkpoint %d covers it, but its inclusion proof from the stored tree does not check against that checkpoint's root", st.Checkpoint)
	case st.Sealed:
		return fmt.Sprintf("yes: first in checkpoint %d (tree size), inclusion proof checked; the newest covers %d events", st.Checkpoint, st.TreeSize)
	case st.TreeSize == 0:
		return "no: no checkpoint yet"
	}
	return fmt.Sprintf("not yet: the newest checkpoint covers %d events", st.TreeSize)
}

func anchorText(st *Status) string {
	switch {
	case st.Anchored:
		return fmt.Sprintf("yes: the newest anchored checkpoint covers %d events", st.AnchoredSize)
	case st.AnchoredSize == 0:
		return "no: no RFC 3161 anchor yet"
	}
	return fmt.Sprintf("not yet: the newest anchored checkpoint covers %d events", st.AnchoredSize)
}

// flatten appends the non-zero leaf fields of v as name/value pairs, named
// by their JSON names (nested ones joined by '.', slice entries by [i]), in
// declaration order; a free-form value (any) is one pair of compact JSON.
func flatten(out [][2]string, name string, v reflect.Value) [][2]string {
	switch v.Kind() {
	case reflect.Invalid:
		return out
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return out
		}
		return flatten(out, name, v.Elem())
	case reflect.Map:
		// A free-form block (AnchorRecord, ClockEvidence: decoded JSON):
		// its members one a line, each value a string or compact JSON.
		if name != "" {
			return append(out, [2]string{name, compactJSON(v.Interface())})
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			m := v.MapIndex(k)
			if m.Kind() == reflect.Interface {
				m = m.Elem()
			}
			if m.Kind() == reflect.String {
				out = append(out, [2]string{Clean(k.String()), Clean(m.String())})
			} else {
				out = append(out, [2]string{Clean(k.String()), compactJSON(m.Interface())})
			}
		}
		return out
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if n == "" || n == "-" {
				n = f.Name
			}
			if name != "" {
				n = name + "." + n
			}
			out = flatten(out, n, v.Field(i))
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Struct {
			return append(out, [2]string{name, compactJSON(v.Interface())})
		}
		for i := range v.Len() {
			out = flatten(out, fmt.Sprintf("%s[%d]", name, i), v.Index(i))
		}
		return out
	}
	// Absent strings and false flags are omitted, as in the JSON; numbers
	// are shown even when zero (a TapSession's PrevEpoch 0 is a fact).
	if (v.Kind() == reflect.String || v.Kind() == reflect.Bool) && v.IsZero() {
		return out
	}
	return append(out, [2]string{name, Clean(fmt.Sprint(v.Interface()))})
}

func compactJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return Clean(fmt.Sprint(v))
	}
	return Clean(strings.TrimSuffix(b.String(), "\n"))
}

// Clean returns s as is when it is valid UTF-8 of printable characters
// (and spaces), else quoted with Go escapes (strconv.Quote), so that no
// control character from a counterparty's message reaches a terminal.
func Clean(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Raw renders FIX wire bytes on one line: SOH as '|', printable ASCII as
// is, every other byte — and '|' and '\' themselves, so that the rendering
// is unambiguous — as \xNN.
func Raw(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for _, c := range b {
		switch {
		case c == 0x01:
			s.WriteByte('|')
		case c == '|' || c == '\\' || c < 0x20 || c > 0x7e:
			fmt.Fprintf(&s, `\x%02x`, c)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// Table writes events as the rows of an aligned table, one line each:
// seq, capture time, type, the FIX session position, the order fields and
// the event's standing. Rows are aligned in blocks of up to 512.
type Table struct {
	w    io.Writer
	tw   *tabwriter.Writer
	rows int
}

// NewTable starts a table on w.
func NewTable(w io.Writer) *Table {
	return &Table{w: w}
}

var tableHeader = []string{"SEQ", "CAPTURED", "TYPE", "EPOCH:MSGSEQ", "EXECTYPE", "ORDSTATUS", "ORDERID", "CLORDID", "ORIGCLORDID", "QTY", "PRICE", "LAST", "CUM", "LEAVES", "STATE", "NOTE"}

// Add writes one event's row.
func (t *Table) Add(e *Event) error {
	if t.tw == nil || t.rows == 512 {
		if err := t.Flush(); err != nil {
			return err
		}
		t.tw = tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
		t.rows = 0
		fmt.Fprintln(t.tw, strings.Join(tableHeader, "\t"))
	}
	t.rows++
	_, err := fmt.Fprintln(t.tw, strings.Join(Row(e), "\t"))
	return err
}

// Flush writes out the rows added so far.
func (t *Table) Flush() error {
	if t.tw == nil {
		return nil
	}
	return t.tw.Flush()
}

// Row returns the table's cells for e ("-" where the event has no value).
func Row(e *Event) []string {
	h, p := &e.Event.Header, &e.Event.Payload
	cell := func(s string) string {
		if s == "" {
			return "-"
		}
		return strings.ReplaceAll(Clean(s), "\t", " ")
	}
	named := func(code, name string) string {
		if code == "" {
			return "-"
		}
		if name == "" {
			return cell(code)
		}
		return cell(code) + "=" + name
	}
	pos := "-"
	var note []string
	if f := p.FIX; f != nil {
		pos = fmt.Sprintf("%d:%d", f.Epoch, f.MsgSeqNum)
		if p.Trade == nil {
			if n := MsgTypeName(f.MsgType); n != "" {
				note = append(note, n)
			} else {
				note = append(note, "MsgType "+f.MsgType)
			}
		}
		if f.PossDupFlag {
			note = append(note, "PossDup")
		}
		if f.Unprocessed {
			note = append(note, "Unprocessed")
		}
	}
	t := p.Trade
	if t == nil {
		t = &chain.Trade{}
	}
	last := ""
	if t.ExecutedQty != "" || t.ExecutionPrice != "" {
		last = t.ExecutedQty + "@" + t.ExecutionPrice
	}
	if t.TradeBust {
		note = append(note, "TradeBust")
	}
	if t.TradeCorrection {
		note = append(note, "TradeCorrection")
	}
	if t.Text != "" {
		note = append(note, t.Text)
	}
	if d := p.ErrorDetails; d != nil {
		note = append(note, d.ErrorCode+": "+d.ErrorMessage)
	}
	if s := p.TapSession; s != nil {
		note = append(note, fmt.Sprintf("%s: epoch %d→%d, next %d→%d", s.Reason, s.PrevEpoch, s.Epoch, s.PrevNextExpected, s.NextExpected))
	}
	if s := p.Session; s != nil && s.Text != "" {
		note = append(note, s.Text)
	}
	n := strings.Join(note, "; ")
	if r := []rune(n); len(r) > 80 {
		n = string(r[:77]) + "..."
	}
	return []string{
		strconv.FormatUint(e.Record.Seq, 10), cell(h.TimestampISO), cell(string(h.EventType)), pos,
		named(t.ExecType, ExecTypeName(t.ExecType)), named(t.OrdStatus, OrdStatusName(t.OrdStatus)),
		cell(t.OrderID), cell(t.ClOrdID), cell(t.OrigClOrdID), cell(t.Quantity), cell(t.Price), cell(last),
		cell(t.CumQty), cell(t.RemainingQty), StateText(&e.Status), cell(n),
	}
}

// StateText is the standing in one word per check, e.g.
// "signed,sealed,anchored" or "unsigned,unsealed"; a failed hash, link or
// signature is in capitals.
func StateText(st *Status) string {
	var s []string
	if !st.HashOK {
		s = append(s, "HASH-MISMATCH")
	}
	if !st.LinkOK {
		s = append(s, "BROKEN-LINK")
	}
	switch st.Signature {
	case SigValid:
		s = append(s, "signed")
	case SigInvalid:
		s = append(s, "BAD-SIGNATURE")
	case SigUnknownKey:
		s = append(s, "other-key")
	default:
		s = append(s, "unsigned")
	}
	switch {
	case st.Sealed && !st.ProofOK:
		s = append(s, "NOT-IN-TREE")
	case st.Sealed:
		s = append(s, "sealed")
	default:
		s = append(s, "unsealed")
	}
	if st.Anchored {
		s = append(s, "anchored")
	}
	return strings.Join(s, ",")
}
