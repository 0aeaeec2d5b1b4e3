// Package fixmap turns one inbound FIX message into the parts of one VCP
// event (profile fixtap-vcp/1 §4; the table as implemented is
// docs/fix-mapping.md).
//
// It has two halves:
//
//   - A tag=value scanner, [Parse] / [ParseWith], that keeps every field in
//     wire order (duplicates and repeating groups included), checks the
//     standard header (8, 9, 35 first) and trailer (10 last) and, when
//     strict, BodyLength and CheckSum. Errors are *[ParseError] wrapping
//     [ErrMalformed], [ErrBodyLength], [ErrChecksum] or [ErrMissingField].
//     Repeating groups are read explicitly with [Message.Group].
//   - A mapper, [Config.Map], that classifies the message by MsgType (35)
//     and, for execution reports, ExecTransType (20) and ExecType (150),
//     and copies prices and quantities verbatim as strings.
//
// The package is pure: no I/O, no clock, no floats (internal/lint enforces
// the last). Map never drops a message: whatever cannot be mapped becomes
// an ERR event with ErrorCode ERR_PARSE saying why.
package fixmap
