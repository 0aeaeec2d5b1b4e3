package chain

import "fmt"

// EventType is a VCP event type (VCP v1.0 §3.2, kept by v1.1).
type EventType string

// The VCP event types fixtap writes and their numeric codes.
const (
	SIG EventType = "SIG" // 1 signal
	ORD EventType = "ORD" // 2 order sent / order copy
	ACK EventType = "ACK" // 3 order acknowledged
	EXE EventType = "EXE" // 4 full execution
	PRT EventType = "PRT" // 5 partial execution
	REJ EventType = "REJ" // 6 rejected
	CXL EventType = "CXL" // 7 canceled
	MOD EventType = "MOD" // 8 modified
	CLS EventType = "CLS" // 9 position closed
	ALG EventType = "ALG" // 20 algorithm update
	RSK EventType = "RSK" // 21 risk parameter change
	AUD EventType = "AUD" // 22 audit record
	HBT EventType = "HBT" // 98 heartbeat
	ERR EventType = "ERR" // 99 error
	REC EventType = "REC" // 100 recovery / session up
	SNC EventType = "SNC" // 101 clock synchronisation snapshot
)

var eventTypeCodes = map[EventType]int{
	SIG: 1, ORD: 2, ACK: 3, EXE: 4, PRT: 5, REJ: 6, CXL: 7, MOD: 8, CLS: 9,
	ALG: 20, RSK: 21, AUD: 22, HBT: 98, ERR: 99, REC: 100, SNC: 101,
}

// Code returns the numeric EventTypeCode of t, and false if t is not a VCP
// event type.
func (t EventType) Code() (int, bool) {
	c, ok := eventTypeCodes[t]
	return c, ok
}

// ClockSyncStatus is the measured state of the capture clock (profile §5).
type ClockSyncStatus string

// Clock statuses, best first.
const (
	PTPLocked  ClockSyncStatus = "PTP_LOCKED"
	NTPSynced  ClockSyncStatus = "NTP_SYNCED"
	BestEffort ClockSyncStatus = "BEST_EFFORT"
	Unreliable ClockSyncStatus = "UNRELIABLE"
)

// Fixed header and security values of the profile.
const (
	PrecisionNanosecond = "NANOSECOND"
	HashAlgoSHA256      = "SHA256"
	SignAlgoEd25519     = "ED25519"
	VCPVersion          = "1.1"
)

// Event is one VCP v1.1 event. Header and Payload are covered by EventHash;
// Security is not (it carries the hash itself, the signature and, at export,
// the Merkle position).
type Event struct {
	Header   Header   `json:"Header"`
	Payload  Payload  `json:"Payload"`
	Security Security `json:"Security"`
}

// Header is the VCP event header. TimestampInt is nanoseconds since the Unix
// epoch as a decimal string (JCS cannot carry an int64 exactly);
// TimestampISO is the same instant in RFC 3339 UTC with 9 fraction digits.
// Both are the tap's capture time from internal/clock, never the venue's.
type Header struct {
	EventID            string          `json:"EventID"`
	TraceID            string          `json:"TraceID,omitempty"`
	TimestampInt       string          `json:"TimestampInt"`
	TimestampISO       string          `json:"TimestampISO"`
	EventType          EventType       `json:"EventType"`
	EventTypeCode      int             `json:"EventTypeCode"`
	TimestampPrecision string          `json:"TimestampPrecision"`
	ClockSyncStatus    ClockSyncStatus `json:"ClockSyncStatus"`
	HashAlgo           string          `json:"HashAlgo"`
	VenueID            string          `json:"VenueID,omitempty"`
	Symbol             string          `json:"Symbol,omitempty"`
	AccountID          string          `json:"AccountID,omitempty"`
	OperatorID         string          `json:"OperatorID,omitempty"`
}

// Payload holds the event's module blocks; absent blocks are omitted.
// PolicyIdentification lives here, not in Header, so EventHash covers it.
type Payload struct {
	// AnchorRecord is the VCP AnchorRecord of an anchored checkpoint (an
	// AUD event recording the anchor, so the next checkpoint seals it), as
	// internal/seal spells it.
	AnchorRecord any    `json:"AnchorRecord,omitempty"`
	Clock        *Clock `json:"Clock,omitempty"`
	// ClockEvidence is the full measurement behind a clock status (an SNC
	// event's snapshot), as internal/clock spells it: a struct of strings
	// and small integers that canonicalizes like any other block.
	ClockEvidence        any                   `json:"ClockEvidence,omitempty"`
	ErrorDetails         *ErrorDetails         `json:"ErrorDetails,omitempty"`
	FIX                  *FIX                  `json:"FIX,omitempty"`
	PolicyIdentification *PolicyIdentification `json:"PolicyIdentification,omitempty"`
	// Session holds the session-level facts of a FIX admin message (Logon,
	// Heartbeat, TestRequest, ResendRequest, SequenceReset, Reject, Logout).
	Session *Session `json:"Session,omitempty"`
	// TapSession records the tap's own sequence bookkeeping (resets).
	TapSession *TapSession `json:"TapSession,omitempty"`
	Trade      *Trade      `json:"VCP-TRADE,omitempty"`
	// XRef is the VCP-XREF block of a reconciliation outcome (an AUD
	// event written by internal/xref; profile §9 (l)).
	XRef *XRef `json:"VCP-XREF,omitempty"`
}

// VCP-XREF values (VCP v1.1 §5.6, "dual logging"; profile §9 (l)).
const (
	// PartyRole: whose view the XREF record is. The tap writes the
	// firm's record (INITIATOR) or, for a group it only watches, OBSERVER.
	RoleInitiator    = "INITIATOR"
	RoleCounterparty = "COUNTERPARTY"
	RoleObserver     = "OBSERVER"
	// ReconciliationStatus.
	XRefMatched     = "MATCHED"
	XRefDiscrepancy = "DISCREPANCY"
	XRefTimeout     = "TIMEOUT"
	// DiscrepancyDetails Severity (the ErrorDetails scale).
	SeverityCritical = "CRITICAL"
	SeverityWarning  = "WARNING"
	SeverityInfo     = "INFO"
)

// XRef is the VCP-XREF block: the outcome of reconciling one event of the
// firm's side (Local, sessions of role INITIATOR or OBSERVER) against the
// counterparty's copy (sessions of role COUNTERPARTY) in a reconciliation
// group. Both sides' EventIDs and EventHashes name events of this log;
// a side that never arrived (TIMEOUT) is empty. Every number is a
// decimal string except the small integers ToleranceMs and DeadlineMs.
type XRef struct {
	// CrossReferenceID is a UUIDv7 from the tap's capture time.
	CrossReferenceID string `json:"CrossReferenceID"`
	// GroupID is the reconciliation group (XRefGroup of the sessions).
	GroupID        string         `json:"GroupID"`
	PartyRole      string         `json:"PartyRole"`
	CounterpartyID string         `json:"CounterpartyID"`
	SharedEventKey SharedEventKey `json:"SharedEventKey"`
	LocalEventID   string         `json:"LocalEventID,omitempty"`
	LocalEventHash string         `json:"LocalEventHash,omitempty"`
	// CounterpartyEventID/Hash name the counterparty's copy as this tap
	// captured it; ExpectedCounterpartyHash (at export) is its RawSHA256.
	CounterpartyEventID   string `json:"CounterpartyEventID,omitempty"`
	CounterpartyEventHash string `json:"CounterpartyEventHash,omitempty"`
	ReconciliationStatus  string `json:"ReconciliationStatus"`
	// DiscrepancyDetails: every field found different (DISCREPANCY only).
	DiscrepancyDetails []Discrepancy `json:"DiscrepancyDetails,omitempty"`
	// Repeats names the earlier event of the same side and key that a
	// duplicate (PossDup or not) repeats.
	RepeatsEventID   string `json:"RepeatsEventID,omitempty"`
	RepeatsEventHash string `json:"RepeatsEventHash,omitempty"`
	// Timeout says what was expected and never arrived (TIMEOUT only).
	Timeout *XRefExpected `json:"Timeout,omitempty"`
}

// SharedEventKey is what both sides' events share. AlternateKeys are
// "Field=value" with Field a VCP-TRADE member; the first is the key the
// pair was matched on. Timestamp is the capture time (ns since the Unix
// epoch, a decimal string) of the local event, else of the counterparty's;
// two events pair within ToleranceMs of each other without a timestamp
// discrepancy.
type SharedEventKey struct {
	OrderID       string   `json:"OrderID,omitempty"`
	AlternateKeys []string `json:"AlternateKeys"`
	Timestamp     string   `json:"Timestamp"`
	ToleranceMs   int64    `json:"ToleranceMs"`
}

// Discrepancy is one field the two sides disagree on, each value verbatim
// (an absent field is "").
type Discrepancy struct {
	Field             string `json:"Field"`
	LocalValue        string `json:"LocalValue"`
	CounterpartyValue string `json:"CounterpartyValue"`
	Severity          string `json:"Severity"`
}

// XRefExpected is what a TIMEOUT waited for: an event with the shared key
// from the sessions of ExpectedRole, within DeadlineMs of log capture time
// after the event that opened the match. Reason is "deadline" or
// "evicted" (the pending bound was reached first).
type XRefExpected struct {
	ExpectedRole     string   `json:"ExpectedRole"`
	ExpectedSessions []string `json:"ExpectedSessions"`
	DeadlineMs       int64    `json:"DeadlineMs"`
	Reason           string   `json:"Reason"`
}

// TapSession records a change the tap makes to a session's sequence
// bookkeeping that no inbound message carries: a reset (ResetOn*, schedule,
// Logon 141=Y; a new epoch, numbers restart) or a gap fill as applied
// (SequenceReset; same epoch, numbers move forward). The MsgSeqNums in
// [PrevNextExpected, NextExpected) of PrevEpoch that no event carries (one
// marked AheadOfSequence may) were never delivered.
type TapSession struct {
	SessionID string `json:"SessionID"`
	Reason    string `json:"Reason"`
	// PrevEpoch/PrevNextExpected: the epoch and next expected MsgSeqNum
	// before; Epoch/NextExpected after. MsgSeqNums ≥ PrevNextExpected of
	// PrevEpoch were never delivered.
	PrevEpoch        int64 `json:"PrevEpoch"`
	PrevNextExpected int64 `json:"PrevNextExpected"`
	Epoch            int64 `json:"Epoch"`
	NextExpected     int64 `json:"NextExpected"`
}

// FIX describes the inbound FIX message an event was made from. RawSHA256
// is the hex SHA-256 of the exact wire bytes, which are stored beside the
// event and exported with it.
type FIX struct {
	BeginString string `json:"BeginString"`
	SessionID   string `json:"SessionID"`
	MsgType     string `json:"MsgType"`
	MsgSeqNum   int64  `json:"MsgSeqNum"`
	PossDupFlag bool   `json:"PossDupFlag,omitempty"`
	SendingTime string `json:"SendingTime,omitempty"`
	RawSHA256   string `json:"RawSHA256"`
	// Epoch is the tap's session epoch the message arrived in: it starts at
	// 0 and bumps on every sequence reset, so MsgSeqNums are contiguous per
	// (SessionID, Epoch) except where a recorded gap fill accounts for a gap.
	Epoch int64 `json:"Epoch,omitempty"`
	// AheadOfSequence: the MsgSeqNum was beyond the next expected one when
	// the message arrived (a Logon opening a gap, typically): it is logged
	// when received, before the resends that fill the gap.
	AheadOfSequence bool `json:"AheadOfSequence,omitempty"`
	// Unprocessed: the engine did not accept the message (an ERR_REJECT or
	// ERR_PARSE event carrying its raw bytes), so its MsgSeqNum was not
	// consumed and does not count as delivered; a later resend of the same
	// number is logged as its own event.
	Unprocessed bool `json:"Unprocessed,omitempty"`
}

// Trade is the VCP-TRADE block: order and execution fields copied verbatim
// from FIX as strings (never through a float).
type Trade struct {
	OrderID         string `json:"OrderID,omitempty"`
	ClOrdID         string `json:"ClOrdID,omitempty"`
	OrigClOrdID     string `json:"OrigClOrdID,omitempty"`
	ExecID          string `json:"ExecID,omitempty"`
	ExecRefID       string `json:"ExecRefID,omitempty"`
	ExecType        string `json:"ExecType,omitempty"`
	OrdStatus       string `json:"OrdStatus,omitempty"`
	Stage           string `json:"Stage,omitempty"`
	Side            string `json:"Side,omitempty"`
	OrderType       string `json:"OrderType,omitempty"`
	TimeInForce     string `json:"TimeInForce,omitempty"`
	Price           string `json:"Price,omitempty"`
	Quantity        string `json:"Quantity,omitempty"`
	ExecutionPrice  string `json:"ExecutionPrice,omitempty"`
	ExecutedQty     string `json:"ExecutedQty,omitempty"`
	CumQty          string `json:"CumQty,omitempty"`
	RemainingQty    string `json:"RemainingQty,omitempty"`
	Currency        string `json:"Currency,omitempty"`
	TransactTime    string `json:"TransactTime,omitempty"`
	TradeBust       bool   `json:"TradeBust,omitempty"`
	TradeCorrection bool   `json:"TradeCorrection,omitempty"`
	// ExecTransType is FIX 4.0–4.3 ExecTransType (20), verbatim.
	ExecTransType string `json:"ExecTransType,omitempty"`
	// SecondaryExecID is ExecutionReport SecondaryExecID (527), verbatim:
	// a reconciliation key when ExecIDs differ between the two copies.
	SecondaryExecID string `json:"SecondaryExecID,omitempty"`
	// TradeReportID is TradeCaptureReport TradeReportID (571), verbatim.
	TradeReportID string `json:"TradeReportID,omitempty"`
	// TradeReportTransType is TradeCaptureReport TradeReportTransType
	// (487), verbatim.
	TradeReportTransType string `json:"TradeReportTransType,omitempty"`
	// Text is the free text (58) of the message, verbatim.
	Text string `json:"Text,omitempty"`
	// Sides is the NoSides (552) repeating group of a TradeCaptureReport,
	// one entry per side, in wire order.
	Sides []TradeSide `json:"Sides,omitempty"`
}

// TradeSide is one entry of a TradeCaptureReport's NoSides (552) group.
// AccountID follows the header's rule: never the raw Account (1).
type TradeSide struct {
	Side      string `json:"Side,omitempty"`
	OrderID   string `json:"OrderID,omitempty"`
	ClOrdID   string `json:"ClOrdID,omitempty"`
	AccountID string `json:"AccountID,omitempty"`
	Currency  string `json:"Currency,omitempty"`
	Text      string `json:"Text,omitempty"`
}

// Session is the payload block of FIX session-level (admin) facts, each
// copied verbatim from its tag. Sequence numbers stay strings so that
// EndSeqNo "0" (infinity) is not lost to omitempty.
type Session struct {
	ResetSeqNumFlag       bool   `json:"ResetSeqNumFlag,omitempty"`       // 141=Y
	GapFillFlag           bool   `json:"GapFillFlag,omitempty"`           // 123=Y
	NewSeqNo              string `json:"NewSeqNo,omitempty"`              // 36
	BeginSeqNo            string `json:"BeginSeqNo,omitempty"`            // 7
	EndSeqNo              string `json:"EndSeqNo,omitempty"`              // 16
	NextExpectedMsgSeqNum string `json:"NextExpectedMsgSeqNum,omitempty"` // 789
	TestReqID             string `json:"TestReqID,omitempty"`             // 112
	RefSeqNum             string `json:"RefSeqNum,omitempty"`             // 45
	RefTagID              string `json:"RefTagID,omitempty"`              // 371
	RefMsgType            string `json:"RefMsgType,omitempty"`            // 372
	SessionRejectReason   string `json:"SessionRejectReason,omitempty"`   // 373
	BusinessRejectReason  string `json:"BusinessRejectReason,omitempty"`  // 380
	Text                  string `json:"Text,omitempty"`                  // 58
}

// Clock is the per-event summary of the latest clock measurement (profile §5).
type Clock struct {
	Source        string `json:"Source"`
	MaxErrorNs    string `json:"MaxErrorNs"`
	SnapshotAgeMs int64  `json:"SnapshotAgeMs"`
}

// ErrorDetails is the payload of an ERR event.
type ErrorDetails struct {
	ErrorCode         string `json:"ErrorCode"`
	ErrorMessage      string `json:"ErrorMessage"`
	Severity          string `json:"Severity"`
	AffectedComponent string `json:"AffectedComponent,omitempty"`
	CorrelatedEventID string `json:"CorrelatedEventID,omitempty"`
	// SeqRangeBegin and SeqRangeEnd name the MsgSeqNum range of an
	// ERR_RECOVER event, verbatim decimal strings: ResendRequest
	// BeginSeqNo (7) and EndSeqNo (16, "0" = no upper bound), or
	// SequenceReset MsgSeqNum (34) and NewSeqNo (36).
	SeqRangeBegin string `json:"SeqRangeBegin,omitempty"`
	SeqRangeEnd   string `json:"SeqRangeEnd,omitempty"`
}

// PolicyIdentification names the policy an event was recorded under.
type PolicyIdentification struct {
	Version            string             `json:"Version"`
	PolicyID           string             `json:"PolicyID"`
	ConformanceTier    string             `json:"ConformanceTier"`
	RegistrationPolicy RegistrationPolicy `json:"RegistrationPolicy"`
	VerificationDepth  VerificationDepth  `json:"VerificationDepth"`
}

// RegistrationPolicy says who issued the policy.
type RegistrationPolicy struct {
	Issuer    string `json:"Issuer"`
	PolicyURI string `json:"PolicyURI,omitempty"`
}

// VerificationDepth says which verification layers the policy requires.
type VerificationDepth struct {
	HashChainValidation    bool `json:"HashChainValidation"`
	MerkleProofRequired    bool `json:"MerkleProofRequired"`
	ExternalAnchorRequired bool `json:"ExternalAnchorRequired"`
}

// Security is the event's integrity block. It is not hashed. For the
// genesis event PrevHash is 64 zeros (nothing is appended to the hash input).
type Security struct {
	Version         string `json:"Version"`
	EventHash       string `json:"EventHash"`
	PrevHash        string `json:"PrevHash"`
	HashAlgo        string `json:"HashAlgo"`
	Signature       string `json:"Signature,omitempty"`
	SignAlgo        string `json:"SignAlgo,omitempty"`
	KeyID           string `json:"KeyID,omitempty"`
	MerkleRoot      string `json:"MerkleRoot,omitempty"`
	MerkleIndex     *int64 `json:"MerkleIndex,omitempty"`
	AnchorReference string `json:"AnchorReference,omitempty"`
}

// validateHeader checks the fields canonicalization cannot check: the type
// and its code agree, and the fixed values are the profile's.
func validateHeader(h *Header) error {
	code, ok := h.EventType.Code()
	if !ok {
		return &InvalidEventError{Field: "Header.EventType", Reason: fmt.Sprintf("unknown event type %q", h.EventType)}
	}
	if h.EventTypeCode != code {
		return &InvalidEventError{Field: "Header.EventTypeCode", Reason: fmt.Sprintf("%d does not match %s (%d)", h.EventTypeCode, h.EventType, code)}
	}
	if h.EventID == "" || h.TimestampInt == "" || h.TimestampISO == "" {
		return &InvalidEventError{Field: "Header", Reason: "EventID, TimestampInt and TimestampISO are required"}
	}
	if h.HashAlgo != HashAlgoSHA256 {
		return &InvalidEventError{Field: "Header.HashAlgo", Reason: fmt.Sprintf("%q, want %q", h.HashAlgo, HashAlgoSHA256)}
	}
	if h.TimestampPrecision != PrecisionNanosecond {
		return &InvalidEventError{Field: "Header.TimestampPrecision", Reason: fmt.Sprintf("%q, want %q", h.TimestampPrecision, PrecisionNanosecond)}
	}
	switch h.ClockSyncStatus {
	case PTPLocked, NTPSynced, BestEffort, Unreliable:
	default:
		return &InvalidEventError{Field: "Header.ClockSyncStatus", Reason: fmt.Sprintf("unknown status %q", h.ClockSyncStatus)}
	}
	return nil
}
