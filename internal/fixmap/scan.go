package fixmap

import (
	"errors"
	"fmt"
)

// SOH is the FIX field delimiter (ASCII 0x01).
const SOH = 0x01

// MaxMessageSize caps the input Parse accepts. A drop copy never carries a
// message anywhere near this; a larger input is refused before scanning.
const MaxMessageSize = 1 << 20

// maxTag bounds tag numbers (FIX tags are positive and far below this), so a
// tag never overflows an int.
const maxTag = 99_999_999

// Sentinels wrapped by *ParseError; test with errors.Is.
var (
	// ErrMalformed: the bytes are not a sequence of tag=value<SOH> fields
	// with the standard header first and the trailer last.
	ErrMalformed = errors.New("fixmap: malformed message")
	// ErrBodyLength: BodyLength (9) is not the length of the body.
	ErrBodyLength = errors.New("fixmap: body length mismatch")
	// ErrChecksum: CheckSum (10) is not the byte sum mod 256.
	ErrChecksum = errors.New("fixmap: checksum mismatch")
	// ErrMissingField: a field the message type requires is absent or
	// has a value of the wrong form.
	ErrMissingField = errors.New("fixmap: missing or invalid field")
)

// ParseError says where a message failed and why. Offset is the byte offset
// in the raw message of the offending field (or of the end of input), Tag
// the tag concerned (0 if none could be read). Err is one of the sentinels.
type ParseError struct {
	Offset int
	Tag    int
	Reason string
	Err    error
}

func (e *ParseError) Error() string {
	if e.Tag != 0 {
		return fmt.Sprintf("%v: tag %d at offset %d: %s", e.Err, e.Tag, e.Offset, e.Reason)
	}
	return fmt.Sprintf("%v: offset %d: %s", e.Err, e.Offset, e.Reason)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Field is one tag=value field. Value is a sub-slice of the raw message (not
// a copy); Offset is the byte offset of the value in the raw message.
type Field struct {
	Tag    int
	Offset int
	Value  []byte
}

// Message is a scanned FIX message: its fields in wire order, duplicates
// kept. Values alias the raw bytes given to Parse; string accessors return
// sub-strings of one immutable copy made by Parse, so strings obtained from
// a Message stay valid even if the caller reuses the raw buffer.
type Message struct {
	Fields []Field
	str    string
	arr    [40]Field // backing store for typical messages: one allocation less
}

// ParseOptions selects how strictly Parse checks a message.
type ParseOptions struct {
	// Lenient skips the comparison of BodyLength (9) and CheckSum (10)
	// with the bytes; both fields must still be present, in place and
	// numeric. The tap parses messages its FIX engine already validated;
	// tests use it for reference messages whose trailers are not valid.
	Lenient bool
}

// Parse scans raw strictly: structure, BodyLength and CheckSum.
func Parse(raw []byte) (*Message, error) { return ParseWith(raw, ParseOptions{}) }

// dataTag returns the data field sized by the length field tag (FIX "data"
// type: the value may contain SOH, so it is read by length, not scanned),
// and false if tag is not a length field.
func dataTag(tag int) (int, bool) {
	switch tag {
	case 90: // SecureDataLen → SecureData
		return 91, true
	case 93: // SignatureLength → Signature
		return 89, true
	case 95, 212, 348, 350, 352, 354, 356, 358, 360, 362, 364, 445, 618, 621:
		return tag + 1, true // RawData, XmlData, Encoded* fields
	}
	return 0, false
}

// ParseWith scans raw under opts. On success every byte of raw belongs to
// exactly one field; the message starts 8, 9, 35 and ends with 10.
func ParseWith(raw []byte, opts ParseOptions) (*Message, error) {
	m := &Message{}
	if err := m.parse(raw, opts); err != nil {
		return nil, err
	}
	return m, nil
}

// parse is ParseWith into m, whose previous contents it replaces (MapBytes
// reuses pooled Messages).
func (m *Message) parse(raw []byte, opts ParseOptions) error {
	m.Fields, m.str = m.arr[:0], ""
	if len(raw) == 0 {
		return &ParseError{Reason: "empty input", Err: ErrMalformed}
	}
	if len(raw) > MaxMessageSize {
		return &ParseError{Reason: fmt.Sprintf("%d bytes exceeds the %d-byte limit", len(raw), MaxMessageSize), Err: ErrMalformed}
	}
	dataLen := -1 // length announced by the previous field if it was a length field
	wantData := 0
	for i := 0; i < len(raw); {
		start := i
		tag := 0
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			if tag == 0 && raw[i] == '0' {
				return &ParseError{Offset: start, Reason: "tag with a leading zero", Err: ErrMalformed}
			}
			tag = tag*10 + int(raw[i]-'0')
			if tag > maxTag {
				return &ParseError{Offset: start, Reason: "tag number too large", Err: ErrMalformed}
			}
			i++
		}
		if i == start {
			return &ParseError{Offset: start, Reason: "expected a tag number", Err: ErrMalformed}
		}
		if i == len(raw) || raw[i] != '=' {
			return &ParseError{Offset: i, Tag: tag, Reason: "expected '=' after the tag", Err: ErrMalformed}
		}
		i++
		vstart := i
		if dataLen >= 0 && tag == wantData {
			if dataLen > len(raw)-i-1 {
				return &ParseError{Offset: vstart, Tag: tag, Reason: fmt.Sprintf("data field of length %d runs past the end", dataLen), Err: ErrMalformed}
			}
			i += dataLen
			if raw[i] != SOH {
				return &ParseError{Offset: i, Tag: tag, Reason: "data field not followed by SOH at its declared length", Err: ErrMalformed}
			}
		} else {
			for i < len(raw) && raw[i] != SOH {
				i++
			}
			if i == len(raw) {
				return &ParseError{Offset: start, Tag: tag, Reason: "field not terminated by SOH", Err: ErrMalformed}
			}
		}
		if i == vstart {
			return &ParseError{Offset: start, Tag: tag, Reason: "empty value", Err: ErrMalformed}
		}
		m.Fields = append(m.Fields, Field{Tag: tag, Offset: vstart, Value: raw[vstart:i:i]})
		i++ // SOH
		dataLen = -1
		if dt, ok := dataTag(tag); ok {
			n, ok := parseUint(raw[vstart : i-1])
			if !ok || n > MaxMessageSize {
				return &ParseError{Offset: vstart, Tag: tag, Reason: "length field is not a decimal length", Err: ErrMalformed}
			}
			dataLen, wantData = int(n), dt
		}
	}
	if err := m.checkFrame(raw, opts); err != nil {
		return err
	}
	m.str = string(raw)
	return nil
}

// checkFrame checks the standard header and trailer and, unless lenient,
// BodyLength and CheckSum.
func (m *Message) checkFrame(raw []byte, opts ParseOptions) error {
	f := m.Fields
	for i, want := range [3]int{8, 9, 35} {
		if i >= len(f) || f[i].Tag != want {
			off := len(raw)
			if i < len(f) {
				off = f[i].Offset
			}
			return &ParseError{Offset: off, Tag: want, Reason: fmt.Sprintf("header field %d must be tag %d", i+1, want), Err: ErrMalformed}
		}
	}
	last := len(f) - 1
	if last < 3 || f[last].Tag != 10 {
		return &ParseError{Offset: len(raw), Tag: 10, Reason: "message must end with CheckSum (10)", Err: ErrMalformed}
	}
	for _, x := range f[3:last] {
		switch x.Tag {
		case 8, 9, 35, 10:
			return &ParseError{Offset: x.Offset, Tag: x.Tag, Reason: "header or trailer tag repeated inside the body", Err: ErrMalformed}
		}
	}
	bodyLen, ok := parseUint(f[1].Value)
	if !ok {
		return &ParseError{Offset: f[1].Offset, Tag: 9, Reason: fmt.Sprintf("BodyLength %q is not a decimal number", f[1].Value), Err: ErrMalformed}
	}
	sum, ok := parseUint(f[last].Value)
	if !ok || len(f[last].Value) != 3 {
		return &ParseError{Offset: f[last].Offset, Tag: 10, Reason: fmt.Sprintf("CheckSum %q is not three digits", f[last].Value), Err: ErrMalformed}
	}
	if opts.Lenient {
		return nil
	}
	// BodyLength counts from the byte after 9's SOH up to and including the
	// SOH before "10=" (FIX Transport, "BodyLength").
	bodyStart := f[1].Offset + len(f[1].Value) + 1
	trailer := f[last].Offset - len("10=")
	if got := uint64(trailer - bodyStart); got != bodyLen {
		return &ParseError{Offset: f[1].Offset, Tag: 9, Reason: fmt.Sprintf("BodyLength says %d, body is %d bytes", bodyLen, got), Err: ErrBodyLength}
	}
	// CheckSum is the sum of every byte before "10=", modulo 256.
	var s uint
	for _, b := range raw[:trailer] {
		s += uint(b)
	}
	if got := uint64(s % 256); got != sum {
		return &ParseError{Offset: f[last].Offset, Tag: 10, Reason: fmt.Sprintf("CheckSum says %03d, bytes sum to %03d", sum, got), Err: ErrChecksum}
	}
	return nil
}

// parseUint parses a non-empty run of ASCII digits (at most 15, so the value
// fits a JSON-safe integer).
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// value returns f's value as a sub-string of the message's copy.
func (m *Message) value(f Field) string { return m.str[f.Offset : f.Offset+len(f.Value)] }

// Get returns the value of the first occurrence of tag.
func (m *Message) Get(tag int) (string, bool) {
	for _, f := range m.Fields {
		if f.Tag == tag {
			return m.value(f), true
		}
	}
	return "", false
}

// index returns the position of the first field with tag, or -1.
func (m *Message) index(tag int) int {
	for i, f := range m.Fields {
		if f.Tag == tag {
			return i
		}
	}
	return -1
}

// BeginString returns the value of tag 8.
func (m *Message) BeginString() string { return m.value(m.Fields[0]) }

// MsgType returns the value of tag 35.
func (m *Message) MsgType() string { return m.value(m.Fields[2]) }

// GroupEntry is one entry of a repeating group.
type GroupEntry struct {
	Fields []Field
	m      *Message
}

// Get returns the value of the first occurrence of tag in the entry.
func (e GroupEntry) Get(tag int) (string, bool) {
	for _, f := range e.Fields {
		if f.Tag == tag {
			return e.m.value(f), true
		}
	}
	return "", false
}

// Group returns the entries of the repeating group counted by countTag
// (first occurrence). FIX requires each entry to start with firstTag, so an
// entry starts at each occurrence of firstTag after the count. An entry that
// is followed by another runs up to it, whatever its tags; the last entry
// runs while its tags are firstTag or in memberTags (list the tags of nested
// groups too) and ends at the first other tag. The number of entries must
// equal the count. An absent count tag gives no entries and no error.
func (m *Message) Group(countTag, firstTag int, memberTags ...int) ([]GroupEntry, error) {
	e, _, _, err := m.group(countTag, firstTag, memberTags)
	return e, err
}

// group is Group, also returning the span [lo, hi) of m.Fields the group
// occupies, count field included (lo = hi = -1 when there is no count tag).
func (m *Message) group(countTag, firstTag int, memberTags []int) (entries []GroupEntry, lo, hi int, err error) {
	ci := m.index(countTag)
	if ci < 0 {
		return nil, -1, -1, nil
	}
	cf := m.Fields[ci]
	n, ok := parseUint(cf.Value)
	if !ok {
		return nil, -1, -1, &ParseError{Offset: cf.Offset, Tag: countTag, Reason: fmt.Sprintf("group count %q is not a number", cf.Value), Err: ErrMalformed}
	}
	rest := m.Fields[ci+1:]
	if n == 0 {
		return nil, ci, ci + 1, nil
	}
	if n > uint64(len(rest)) {
		return nil, -1, -1, &ParseError{Offset: cf.Offset, Tag: countTag, Reason: fmt.Sprintf("group count %d exceeds the %d fields that follow", n, len(rest)), Err: ErrMalformed}
	}
	if len(rest) == 0 || rest[0].Tag != firstTag {
		return nil, -1, -1, &ParseError{Offset: cf.Offset, Tag: countTag, Reason: fmt.Sprintf("group entry must start with tag %d", firstTag), Err: ErrMalformed}
	}
	entries = make([]GroupEntry, 0, n)
	start := 0
	for i := 1; i <= len(rest); i++ {
		if uint64(len(entries)) == n-1 {
			// Last entry: members only.
			j := i
			for j < len(rest) && (rest[j].Tag != firstTag && isMember(rest[j].Tag, memberTags)) {
				j++
			}
			entries = append(entries, GroupEntry{Fields: rest[start:j:j], m: m})
			return entries, ci, ci + 1 + j, nil
		}
		if i == len(rest) {
			break
		}
		if rest[i].Tag == firstTag {
			entries = append(entries, GroupEntry{Fields: rest[start:i:i], m: m})
			start = i
		}
	}
	return nil, -1, -1, &ParseError{Offset: cf.Offset, Tag: countTag, Reason: fmt.Sprintf("group count %d but %d entries start with tag %d", n, len(entries)+1, firstTag), Err: ErrMalformed}
}

func isMember(tag int, members []int) bool {
	for _, t := range members {
		if t == tag {
			return true
		}
	}
	return false
}
