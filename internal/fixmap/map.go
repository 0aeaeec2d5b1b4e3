package fixmap

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fixtap/fixtap/internal/chain"
)

// ErrInput is wrapped by the errors Map returns for input the caller
// controls (not the FIX bytes): an invalid config or a session ID that is not
// UTF-8. FIX content never produces an error; it produces an ERR event.
var ErrInput = errors.New("fixmap: invalid input")

// Values of chain.Trade.Stage.
const (
	StagePending = "PENDING" // ExecType A, 6, E: the venue has not confirmed yet
	StageRequest = "REQUEST" // order copies F, G: a request, not an outcome
)

// ErrorDetails codes, severities and components this package writes.
const (
	ErrCodeConn    = "ERR_CONN"
	ErrCodeReject  = "ERR_REJECT"
	ErrCodeParse   = "ERR_PARSE"
	ErrCodeRecover = "ERR_RECOVER"

	SeverityWarning = "WARNING"

	ComponentSession = "fix-session"
	ComponentParser  = "fix-parser"
)

// OrderKeys are the identifiers the tap uses to derive TraceID (following
// replace chains through OrigClOrdID) and to build its indexes. Values are
// verbatim; empty when absent.
type OrderKeys struct {
	OrderID         string // 37
	ClOrdID         string // 11
	OrigClOrdID     string // 41
	ExecID          string // 17
	SecondaryExecID string // 527
}

// SessionFacts are the session-level facts of an admin message, parsed for
// the tap's sequence tracking. Sequence numbers are 0 when absent (FIX
// sequence numbers start at 1), except EndSeqNo, where FIX 4.2+ uses 0 for
// "no upper bound": HasEndSeqNo says whether it was sent.
type SessionFacts struct {
	ResetSeqNumFlag     bool   // 141=Y
	GapFillFlag         bool   // 123=Y
	NewSeqNo            int64  // 36
	BeginSeqNo          int64  // 7
	EndSeqNo            int64  // 16
	HasEndSeqNo         bool   // 16 present
	RefSeqNum           int64  // 45
	TestReqID           string // 112
	Text                string // 58
	SessionRejectReason string // 373
}

// Mapped is the result of mapping one FIX message: what the tap needs to
// build the event header and payload. Header fields the tap owns (EventID,
// TraceID, timestamps, clock status, VenueID) are not here.
type Mapped struct {
	Type      chain.EventType
	Symbol    string // 55, verbatim
	AccountID string // see Config.PseudonymizeAccounts; empty if no Account (1)
	Payload   chain.Payload
	Keys      OrderKeys
	Session   *SessionFacts // admin messages only
}

// maxSeq is the largest sequence number an event can carry exactly (JCS
// integers are IEEE doubles).
const maxSeq = 1<<53 - 1

// indexedTags are the tags the mapper reads, each looked up once or more
// per message: [mapper.use] finds their first occurrences in one pass over
// the fields instead of one pass per lookup. Other tags are scanned for.
var indexedTags = [...]int{
	8, 35, 34, 43, 52, 55, 1, 37, 11, 41, 17, 527, 19, 150, 39, 54, 40, 59,
	44, 38, 31, 32, 14, 151, 15, 60, 20, 58, 571, 487, 141, 123, 36, 7, 16,
	789, 112, 45, 371, 372, 373, 380, 379, 127,
}

// maxIndexedTag bounds the tags of indexedTags.
const maxIndexedTag = 1024

// tagSlot maps an indexed tag to 1 + its position in indexedTags (0: not
// indexed). Read-only after initialization.
var tagSlot = func() (slot [maxIndexedTag]uint8) {
	for i, t := range indexedTags {
		slot[t] = uint8(i + 1)
	}
	return slot
}()

// mapper carries one message through Map and remembers the first problem
// that makes the message unmappable (it then becomes ERR_PARSE).
type mapper struct {
	c       Config
	m       *Message
	badTag  int    // tag of the first problem, 0 if none
	problem string // what is wrong with badTag
	// first holds, per slot of tagSlot, 1 + the index in m.Fields of the
	// first field with that tag (0: absent).
	first [len(indexedTags) + 1]int32
	// trade, when not nil, is where the next call of trade() writes
	// (allocated with the Mapped; see Map).
	tradeBuf *chain.Trade
}

// use makes m the message x reads, indexing the first occurrence of each
// indexed tag.
func (x *mapper) use(m *Message) {
	x.m = m
	x.first = [len(indexedTags) + 1]int32{}
	for i, f := range m.Fields {
		if uint(f.Tag) < maxIndexedTag {
			if s := tagSlot[f.Tag]; s != 0 && x.first[s] == 0 {
				x.first[s] = int32(i + 1)
			}
		}
	}
}

// lookup is x.m.Get(tag), through the index when tag is indexed.
func (x *mapper) lookup(tag int) (string, bool) {
	if uint(tag) < maxIndexedTag {
		if s := tagSlot[tag]; s != 0 {
			i := x.first[s]
			if i == 0 {
				return "", false
			}
			return x.m.value(x.m.Fields[i-1]), true
		}
	}
	return x.m.Get(tag)
}

// get returns the first value of tag, or "" if absent. A value that is not
// UTF-8 is never returned: it is recorded as the message's problem.
func (x *mapper) get(tag int) string {
	v, ok := x.lookup(tag)
	if !ok {
		return ""
	}
	if !utf8.ValidString(v) {
		x.fail(tag, "value is not valid UTF-8")
		return ""
	}
	return v
}

func (x *mapper) fail(tag int, reason string) {
	if x.badTag == 0 {
		x.badTag, x.problem = tag, reason
	}
}

// seq parses tag as a sequence number (1 ≤ n ≤ 2^53−1); required says
// whether absence is a problem. allowZero admits 0 (EndSeqNo).
func (x *mapper) seq(tag int, required, allowZero bool) (n int64, present bool) {
	v := x.get(tag)
	if v == "" {
		if required {
			x.fail(tag, "required field missing")
		}
		return 0, false
	}
	u, ok := parseUint([]byte(v))
	if !ok || u > maxSeq || (u == 0 && !allowZero) {
		x.fail(tag, fmt.Sprintf("%q is not a valid sequence number", v))
		return 0, true
	}
	return int64(u), true
}

// Map turns a parsed message into the parts of one event. raw must be the
// exact wire bytes m was parsed from (it is hashed into FIX.RawSHA256);
// session names the FIX session. Every message gives a *Mapped: one that
// cannot be mapped (a required field missing or malformed, a value that is
// not UTF-8, m == nil) gives an ERR event with ErrorCode ERR_PARSE saying
// why. An error is returned only for an invalid Config or a session ID that
// is not UTF-8; it wraps ErrConfig or ErrInput.
func (c Config) Map(m *Message, raw []byte, session string) (*Mapped, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !utf8.ValidString(session) {
		return nil, fmt.Errorf("%w: session ID %q is not valid UTF-8", ErrInput, session)
	}
	// One allocation for the result and the blocks every message or every
	// trade message has.
	var out *Mapped
	var fix *chain.FIX
	x := mapper{c: c}
	if m != nil && len(m.Fields) >= 3 && tradeMsgType(m.MsgType()) {
		b := &struct {
			out   Mapped
			fix   chain.FIX
			trade chain.Trade
		}{}
		out, fix, x.tradeBuf = &b.out, &b.fix, &b.trade
	} else {
		b := &struct {
			out Mapped
			fix chain.FIX
		}{}
		out, fix = &b.out, &b.fix
	}
	fix.SessionID, fix.RawSHA256 = session, hexSHA256(raw)
	out.Payload.FIX = fix
	if m == nil || len(m.Fields) < 4 {
		out.setErr(ErrCodeParse, ComponentParser, "no parsed message")
		return out, nil
	}
	x.use(m)
	fix.BeginString = x.get(8)
	fix.MsgType = x.get(35)
	fix.MsgSeqNum, _ = x.seq(34, true, false)
	fix.PossDupFlag = x.get(43) == "Y"
	fix.SendingTime = x.get(52)
	out.Symbol = x.get(55)
	out.AccountID = c.accountID(x.get(1))
	out.Keys = OrderKeys{
		OrderID:         x.get(37),
		ClOrdID:         x.get(11),
		OrigClOrdID:     x.get(41),
		ExecID:          x.get(17),
		SecondaryExecID: x.get(527),
	}

	switch fix.MsgType {
	case "8":
		x.execReport(out)
	case "9": // OrderCancelReject
		out.Type = chain.REJ
		out.Payload.Trade = x.trade()
	case "AE":
		x.tradeCapture(out)
	case "D": // NewOrderSingle (order copy)
		out.Type = chain.ORD
		out.Payload.Trade = x.trade()
	case "F": // OrderCancelRequest (order copy)
		out.Type = chain.CXL
		out.Payload.Trade = x.trade()
		out.Payload.Trade.Stage = StageRequest
	case "G": // OrderCancelReplaceRequest (order copy)
		out.Type = chain.MOD
		out.Payload.Trade = x.trade()
		out.Payload.Trade.Stage = StageRequest
	case "0", "1": // Heartbeat, TestRequest
		out.Type = chain.HBT
		x.session(out)
	case "A": // Logon
		out.Type = chain.REC
		x.session(out)
	case "5": // Logout
		s := x.session(out)
		out.setErr(ErrCodeConn, ComponentSession, join("Logout (5)", s.Text))
	case "2": // ResendRequest
		x.resendRequest(out)
	case "4": // SequenceReset
		x.sequenceReset(out)
	case "3": // Reject (session level)
		s := x.session(out)
		out.setErr(ErrCodeReject, ComponentSession, join(
			"Reject (3) of MsgSeqNum "+orNone(out.Payload.Session.RefSeqNum)+
				tagged(", RefTagID ", out.Payload.Session.RefTagID)+
				tagged(", RefMsgType ", out.Payload.Session.RefMsgType)+
				tagged(", SessionRejectReason ", s.SessionRejectReason), s.Text))
	case "j": // BusinessMessageReject
		s := x.session(out)
		ps := out.Payload.Session
		out.setErr(ErrCodeReject, ComponentSession, join(
			"BusinessMessageReject (j) of MsgType "+orNone(ps.RefMsgType)+
				tagged(", RefSeqNum ", ps.RefSeqNum)+
				tagged(", BusinessRejectRefID ", x.get(379))+
				tagged(", BusinessRejectReason ", ps.BusinessRejectReason), s.Text))
	case "Q": // DontKnowTrade
		out.Payload.Trade = x.trade()
		out.setErr(ErrCodeReject, ComponentSession, join(
			"DontKnowTrade (Q) for ExecID "+orNone(out.Keys.ExecID)+
				tagged(", OrderID ", out.Keys.OrderID)+
				tagged(", DKReason ", x.get(127)), out.Payload.Trade.Text))
	default: // unknown MsgType: recorded, raw bytes kept by the tap
		out.Type = chain.AUD
	}

	if x.badTag != 0 {
		// Keep what identifies the message (FIX block, keys) and nothing
		// that was derived from a message we could not read.
		out.Payload.Trade, out.Payload.Session, out.Session = nil, nil, nil
		out.setErr(ErrCodeParse, ComponentParser, fmt.Sprintf("MsgType %s: tag %d: %s", orNone(fix.MsgType), x.badTag, x.problem))
	}
	return out, nil
}

// tradeMsgType says whether Map gives messages of type mt a Trade block
// (before any ERR_PARSE takes it away).
func tradeMsgType(mt string) bool {
	switch mt {
	case "8", "9", "AE", "D", "F", "G", "Q":
		return true
	}
	return false
}

// hexSHA256 is the lower-case hex SHA-256 of raw (FIX.RawSHA256).
func hexSHA256(raw []byte) string {
	sum := sha256.Sum256(raw)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// messages recycles the field arrays of MapBytes's Messages: Map keeps no
// reference to the Message (its strings are sub-strings of the Message's
// own copy of raw, made afresh by each parse).
var messages = sync.Pool{New: func() any { return new(Message) }}

// MapBytes parses raw under opts and maps it. A message that does not parse
// gives an ERR event with ErrorCode ERR_PARSE carrying the parse error, so a
// caller holding raw bytes always has one event to write.
func (c Config) MapBytes(raw []byte, session string, opts ParseOptions) (*Mapped, error) {
	m := messages.Get().(*Message)
	defer func() {
		// Drop the references to raw and its copy before pooling.
		clear(m.Fields)
		m.Fields, m.str = nil, ""
		messages.Put(m)
	}()
	if err := m.parse(raw, opts); err != nil {
		if verr := c.Validate(); verr != nil {
			return nil, verr
		}
		if !utf8.ValidString(session) {
			return nil, fmt.Errorf("%w: session ID %q is not valid UTF-8", ErrInput, session)
		}
		out := &Mapped{Payload: chain.Payload{FIX: &chain.FIX{SessionID: session, RawSHA256: hexSHA256(raw)}}}
		out.setErr(ErrCodeParse, ComponentParser, strings.ToValidUTF8(err.Error(), "\uFFFD"))
		return out, nil
	}
	return c.Map(m, raw, session)
}

func (out *Mapped) setErr(code, component, msg string) {
	out.Type = chain.ERR
	out.Payload.ErrorDetails = &chain.ErrorDetails{
		ErrorCode:         code,
		ErrorMessage:      msg,
		Severity:          SeverityWarning,
		AffectedComponent: component,
	}
}

// trade copies the order and execution fields (profile §4) verbatim.
func (x *mapper) trade() *chain.Trade {
	t := x.tradeBuf
	if t == nil {
		t = new(chain.Trade)
	}
	x.tradeBuf = nil
	*t = chain.Trade{
		OrderID:         x.get(37),
		ClOrdID:         x.get(11),
		OrigClOrdID:     x.get(41),
		ExecID:          x.get(17),
		ExecRefID:       x.get(19),
		ExecType:        x.get(150),
		OrdStatus:       x.get(39),
		Side:            sideWord(x.get(54)),
		OrderType:       ordTypeWord(x.get(40)),
		TimeInForce:     x.get(59),
		Price:           x.get(44),
		Quantity:        x.get(38),
		ExecutionPrice:  x.get(31),
		ExecutedQty:     x.get(32),
		CumQty:          x.get(14),
		RemainingQty:    x.get(151),
		Currency:        x.get(15),
		TransactTime:    x.get(60),
		ExecTransType:   x.get(20),
		Text:            x.get(58),
		SecondaryExecID: x.get(527),
	}
	return t
}

// execReport classifies an ExecutionReport (35=8) by profile §4: FIX
// 4.0–4.3 ExecTransType (20) first (bust, correction, status), then
// ExecType (150).
func (x *mapper) execReport(out *Mapped) {
	t := x.trade()
	out.Payload.Trade = t
	switch t.ExecTransType {
	case "", "0": // New: classify by ExecType
	case "1": // Cancel: a trade bust
		out.Type, t.TradeBust = chain.CXL, true
		return
	case "2": // Correct
		out.Type, t.TradeCorrection = chain.MOD, true
		return
	default: // 3 Status, and anything else
		out.Type = chain.AUD
		return
	}
	switch t.ExecType {
	case "0": // New
		out.Type = chain.ACK
	case "A": // Pending New
		out.Type, t.Stage = chain.ACK, StagePending
	case "F", "1", "2": // Trade; FIX 4.2 Partial fill, Fill
		out.Type = chain.EXE
		if t.RemainingQty == "" {
			x.fail(151, "LeavesQty is required to tell a partial fill from a full one")
			return
		}
		pos, err := isPositiveDecimal(t.RemainingQty)
		if err != nil {
			x.fail(151, fmt.Sprintf("LeavesQty %q is not a decimal number", t.RemainingQty))
			return
		}
		if pos {
			out.Type = chain.PRT
		}
	case "4", "C", "3": // Canceled, Expired, Done for day
		out.Type = chain.CXL
	case "6": // Pending Cancel
		out.Type, t.Stage = chain.CXL, StagePending
	case "5", "D": // Replaced, Restated
		out.Type = chain.MOD
	case "E": // Pending Replace
		out.Type, t.Stage = chain.MOD, StagePending
	case "8": // Rejected
		out.Type = chain.REJ
	case "H": // Trade Cancel
		out.Type, t.TradeBust = chain.CXL, true
	case "G": // Trade Correct
		out.Type, t.TradeCorrection = chain.MOD, true
	default: // I Order Status, 7 Stopped, 9 Suspended, B Calculated, J/K/L, unknown
		out.Type = chain.AUD
	}
}

// sideGroupTags are the tags that may follow Side (54) inside one NoSides
// (552) entry of a TradeCaptureReport (FIX 4.4 and 5.0SP2 TrdCapRptSideGrp,
// with the nested Parties, ClrInstGrp, CommissionData, ContAmtGrp,
// MiscFeesGrp, TrdAllocGrp and SideTrdRegTS components).
var sideGroupTags = []int{
	37, 198, 11, 526, 66, 453, 448, 447, 452, 802, 523, 803, 1, 660, 581, 81,
	575, 576, 577, 578, 579, 376, 377, 582, 121, 483, 336, 625, 943, 12, 13, 479,
	497, 528, 529, 1390, 1115, 1444, 1057, 1427, 1428, 1429, 1009, 1597, 15, 381,
	157, 230, 158, 159, 738, 920, 921, 922, 238, 237, 118, 119, 120, 155, 156,
	77, 58, 354, 355, 752, 518, 519, 520, 521, 136, 137, 138, 139, 891, 825, 826,
	591, 70, 78, 79, 661, 736, 467, 80, 1016, 1012, 1013, 1014, 40, 18, 1154, 1155,
}

// tradeCapture maps a TradeCaptureReport (AE): EXE, or CXL for a cancel and
// MOD for a replace (TradeReportTransType 487), with the NoSides group.
func (x *mapper) tradeCapture(out *Mapped) {
	sides, lo, hi, err := x.m.group(552, 54, sideGroupTags)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			x.fail(552, pe.Reason)
		} else {
			x.fail(552, "NoSides group is malformed")
		}
		return
	}
	// Report-level fields are read outside the group only: a Text (58) or
	// Account (1) of a side is not the report's.
	full := x.m
	if lo >= 0 {
		outside := make([]Field, 0, len(full.Fields)-(hi-lo))
		outside = append(append(outside, full.Fields[:lo]...), full.Fields[hi:]...)
		x.use(&Message{Fields: outside, str: full.str})
	}
	t := x.trade()
	x.use(full)
	out.Payload.Trade = t
	t.TradeReportID = x.get(571)
	t.TradeReportTransType = x.get(487)
	switch t.TradeReportTransType {
	case "1": // Cancel
		out.Type, t.TradeBust = chain.CXL, true
	case "2": // Replace
		out.Type, t.TradeCorrection = chain.MOD, true
	default:
		out.Type = chain.EXE
	}
	for _, e := range sides {
		get := func(tag int) string {
			v, _ := e.Get(tag)
			if !utf8.ValidString(v) {
				x.fail(tag, "value in NoSides (552) is not valid UTF-8")
				return ""
			}
			return v
		}
		t.Sides = append(t.Sides, chain.TradeSide{
			Side:      sideWord(get(54)),
			OrderID:   get(37),
			ClOrdID:   get(11),
			AccountID: x.c.accountID(get(1)),
			Currency:  get(15),
			Text:      get(58),
		})
	}
}

// session fills the Session payload block and SessionFacts of an admin
// message.
func (x *mapper) session(out *Mapped) *SessionFacts {
	ps := &chain.Session{
		ResetSeqNumFlag:       x.get(141) == "Y",
		GapFillFlag:           x.get(123) == "Y",
		NewSeqNo:              x.get(36),
		BeginSeqNo:            x.get(7),
		EndSeqNo:              x.get(16),
		NextExpectedMsgSeqNum: x.get(789),
		TestReqID:             x.get(112),
		RefSeqNum:             x.get(45),
		RefTagID:              x.get(371),
		RefMsgType:            x.get(372),
		SessionRejectReason:   x.get(373),
		BusinessRejectReason:  x.get(380),
		Text:                  x.get(58),
	}
	s := &SessionFacts{
		ResetSeqNumFlag:     ps.ResetSeqNumFlag,
		GapFillFlag:         ps.GapFillFlag,
		TestReqID:           ps.TestReqID,
		Text:                ps.Text,
		SessionRejectReason: ps.SessionRejectReason,
	}
	s.NewSeqNo, _ = x.seq(36, false, false)
	s.BeginSeqNo, _ = x.seq(7, false, false)
	s.EndSeqNo, s.HasEndSeqNo = x.seq(16, false, true)
	s.RefSeqNum, _ = x.seq(45, false, false)
	out.Payload.Session = ps
	out.Session = s
	return s
}

// resendRequest maps ResendRequest (2) to ERR_RECOVER naming BeginSeqNo (7)
// to EndSeqNo (16).
func (x *mapper) resendRequest(out *Mapped) {
	s := x.session(out)
	ps := out.Payload.Session
	x.seq(7, true, false)
	if !s.HasEndSeqNo {
		x.fail(16, "required field missing")
	}
	end := ps.EndSeqNo
	if s.HasEndSeqNo && s.EndSeqNo == 0 {
		end += " (no upper bound)"
	}
	out.setErr(ErrCodeRecover, ComponentSession, "ResendRequest (2) for MsgSeqNum "+orNone(ps.BeginSeqNo)+" to "+orNone(end))
	out.Payload.ErrorDetails.SeqRangeBegin = ps.BeginSeqNo
	out.Payload.ErrorDetails.SeqRangeEnd = ps.EndSeqNo
}

// sequenceReset maps SequenceReset (4) to ERR_RECOVER: GapFill (123=Y)
// skips MsgSeqNum up to but not including NewSeqNo (36); Reset sets the
// next expected MsgSeqNum to NewSeqNo.
func (x *mapper) sequenceReset(out *Mapped) {
	s := x.session(out)
	ps := out.Payload.Session
	x.seq(36, true, false)
	seq := x.get(34)
	var msg string
	if s.GapFillFlag {
		msg = "SequenceReset-GapFill (4): MsgSeqNum " + orNone(seq) + " up to but not including NewSeqNo " + orNone(ps.NewSeqNo) + " gap-filled"
	} else {
		msg = "SequenceReset-Reset (4) at MsgSeqNum " + orNone(seq) + ": next MsgSeqNum reset to NewSeqNo " + orNone(ps.NewSeqNo)
	}
	out.setErr(ErrCodeRecover, ComponentSession, msg)
	out.Payload.ErrorDetails.SeqRangeBegin = seq
	out.Payload.ErrorDetails.SeqRangeEnd = ps.NewSeqNo
}

// sideWord names a Side (54) code.
func sideWord(code string) string {
	switch code {
	case "":
		return ""
	case "1":
		return "BUY"
	case "2":
		return "SELL"
	case "5":
		return "SELL_SHORT"
	case "6":
		return "SELL_SHORT_EXEMPT"
	}
	return "SIDE_" + code
}

// ordTypeWord names an OrdType (40) code.
func ordTypeWord(code string) string {
	switch code {
	case "":
		return ""
	case "1":
		return "MARKET"
	case "2":
		return "LIMIT"
	case "3":
		return "STOP"
	case "4":
		return "STOP_LIMIT"
	}
	return "ORDTYPE_" + code
}

// join appends ": text" to s when text is not empty.
func join(s, text string) string {
	if text == "" {
		return s
	}
	return s + ": " + text
}

// tagged returns label+v, or "" when v is empty.
func tagged(label, v string) string {
	if v == "" {
		return ""
	}
	return label + v
}

// orNone returns v, or "(none)" when it is empty.
func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}
