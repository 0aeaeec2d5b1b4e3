package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
)

// An event line of events.jsonl is the RFC 8785 form of
// {"Header":{…},"Payload":{…},"Security":{…}}: its keys in that (sorted)
// order, no whitespace. splitLine finds the three members' exact bytes
// without decoding them, so the hashed bytes are the bytes on disk.
func splitLine(line []byte) (header, payload, security []byte, err error) {
	header, payload, rest, err := splitHeaderPayload(line)
	if err != nil {
		return nil, nil, nil, err
	}
	rest, ok := bytes.CutPrefix(rest, []byte(`,"Security":`))
	if !ok {
		return nil, nil, nil, errors.New(`Payload is not followed by ,"Security":`)
	}
	n, err := skipValue(rest)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("Security: %w", err)
	}
	security, rest = rest[:n], rest[n:]
	if string(rest) != "}" {
		return nil, nil, nil, fmt.Errorf("%d unexpected bytes after Security", len(rest))
	}
	if header[0] != '{' || payload[0] != '{' || security[0] != '{' {
		return nil, nil, nil, errors.New("Header, Payload and Security must be objects")
	}
	return header, payload, security, nil
}

// splitHeaderPayload is splitLine's first part: the Header and Payload
// values, and the rest of the line after them.
func splitHeaderPayload(line []byte) (header, payload, rest []byte, err error) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"Header":`))
	if !ok {
		return nil, nil, nil, errors.New(`line does not start with {"Header":`)
	}
	n, err := skipValue(rest)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("Header: %w", err)
	}
	header, rest = rest[:n], rest[n:]
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"Payload":`)); !ok {
		return nil, nil, nil, errors.New(`Header is not followed by ,"Payload":`)
	}
	if n, err = skipValue(rest); err != nil {
		return nil, nil, nil, fmt.Errorf("Payload: %w", err)
	}
	return header, rest[:n], rest[n:], nil
}

// parseLine is splitLine then parseSecurityView: the same bytes, values
// and errors (FuzzParseLine checks), with the Security member walked once
// instead of twice. Security is the line's last member, so it is the rest
// of the line less the closing brace; when parseSecurityView accepts that
// (a flat object of known members whose values skipValue delimits),
// skipValue would have ended the member exactly there. Anything else
// takes the two-step path, for its exact error.
func parseLine(line []byte, s *securityView) (header, payload, security []byte, err error) {
	header, payload, rest, err := splitHeaderPayload(line)
	if err != nil {
		return nil, nil, nil, err
	}
	if sec, ok := bytes.CutPrefix(rest, []byte(`,"Security":`)); ok && len(sec) > 0 && sec[len(sec)-1] == '}' &&
		header[0] == '{' && payload[0] == '{' {
		sec = sec[:len(sec)-1]
		if parseSecurityView(sec, s) == nil {
			return header, payload, sec, nil
		}
	}
	*s = securityView{}
	if header, payload, security, err = splitLine(line); err != nil {
		return nil, nil, nil, err
	}
	if err := parseSecurityView(security, s); err != nil {
		return nil, nil, nil, fmt.Errorf("Security: %w", err)
	}
	return header, payload, security, nil
}

// skipValue returns the length of the JSON value at the start of b. It
// checks structure (brackets, strings, literals) but not every detail of
// numbers or escapes: the canonical-form check does that.
func skipValue(b []byte) (int, error) {
	depth := 0
	i := 0
	for {
		if i >= len(b) {
			return 0, errors.New("truncated value")
		}
		switch c := b[i]; c {
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
			if depth < 0 {
				return 0, errors.New("unbalanced brackets")
			}
		case '"':
			// Find the closing quote: the first '"' not escaped, where a
			// backslash escapes the byte after it (so a quote ends the
			// string exactly when an even run of backslashes precedes it).
			// Eight bytes at a time (lsb, msb), inline: the strings in
			// events are mostly short, and a call per string cost more
			// than the scan.
			i++
			for {
				if i+8 <= len(b) {
					x := binary.LittleEndian.Uint64(b[i:])
					q, s := x^('"'*lsb), x^('\\'*lsb)
					m := ((q-lsb)&^q | (s-lsb)&^s) & msb
					if m == 0 {
						i += 8
						continue
					}
					i += bits.TrailingZeros64(m) >> 3
				} else {
					for i < len(b) && b[i] != '"' && b[i] != '\\' {
						i++
					}
					if i >= len(b) {
						return 0, errors.New("unterminated string")
					}
				}
				if b[i] == '"' {
					break
				}
				i += 2
			}
			i++
			// In an object or array a string is mostly followed by ':'
			// or ',': take it now rather than in another turn.
			if depth > 0 && i < len(b) && (b[i] == ':' || b[i] == ',') {
				i++
			}
		case ',', ':':
			if depth == 0 {
				return 0, fmt.Errorf("unexpected %q", c)
			}
			i++
		default:
			// a number or a literal
			j := i
		scan:
			for j < len(b) {
				switch b[j] {
				case ',', ':', ']', '}', '"', '{', '[':
					break scan
				}
				j++
			}
			if j == i {
				return 0, fmt.Errorf("unexpected byte %q", b[i])
			}
			i = j
		}
		if depth == 0 {
			return i, nil
		}
	}
}

// For finding a byte eight at a time: (x − lsb) &^ x & msb has the top
// bit of a byte set at the first zero byte of x (and at none before it),
// and x XOR c·lsb is zero exactly where x holds c.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// security is the Security block as exported (docs/vcp-profile.md §1, §9d).
type security struct {
	Version, EventHash, PrevHash, HashAlgo string
	Signature, SignAlgo, KeyID             string
	MerkleRoot, AnchorReference            string
	MerkleIndex                            int64
	HasIndex                               bool
}

// indexQuoteOrBackslash returns the index of the first '"' or '\\' in b,
// or -1 (as skipValue's string scan).
func indexQuoteOrBackslash(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, s := x^('"'*lsb), x^('\\'*lsb)
		if m := ((q-lsb)&^q | (s-lsb)&^s) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return -1
}

// securityView is the Security block with each string member as bytes:
// aliasing the line when the value has no escape (the canonical case),
// decoded otherwise. The verifier's hot path reads it without allocating.
type securityView struct {
	Version, EventHash, PrevHash, HashAlgo []byte
	Signature, SignAlgo, KeyID             []byte
	MerkleRoot, AnchorReference            []byte
	MerkleIndex                            int64
	HasIndex                               bool
}

// parseSecurity decodes a canonical Security object: a flat object whose
// values are strings or one integer. Unknown members are an error.
func parseSecurity(b []byte) (security, error) {
	var v securityView
	if err := parseSecurityView(b, &v); err != nil {
		return security{}, err
	}
	return security{Version: string(v.Version), EventHash: string(v.EventHash), PrevHash: string(v.PrevHash), HashAlgo: string(v.HashAlgo),
		Signature: string(v.Signature), SignAlgo: string(v.SignAlgo), KeyID: string(v.KeyID),
		MerkleRoot: string(v.MerkleRoot), AnchorReference: string(v.AnchorReference),
		MerkleIndex: v.MerkleIndex, HasIndex: v.HasIndex}, nil
}

// parseSecurityView is parseSecurity into s, aliasing b.
func parseSecurityView(b []byte, s *securityView) error {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return errors.New("not an object")
	}
	rest := b[1 : len(b)-1]
	for len(rest) > 0 {
		if rest[0] != '"' {
			return errors.New("want a member name")
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return errors.New("unterminated member name")
		}
		name := rest[1 : 1+end]
		rest = rest[2+end:]
		if len(rest) == 0 || rest[0] != ':' {
			return fmt.Errorf("%s: want ':'", name)
		}
		rest = rest[1:]
		// A string without escapes, the canonical case, is delimited
		// and taken in one scan; anything else is skipValue's.
		var n int
		var str []byte
		if len(rest) > 0 && rest[0] == '"' {
			if j := indexQuoteOrBackslash(rest[1:]); j >= 0 && rest[1+j] == '"' {
				n, str = j+2, rest[1:1+j]
			}
		}
		if str == nil {
			var err error
			if n, err = skipValue(rest); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		val := rest[:n]
		rest = rest[n:]
		if len(rest) > 0 {
			if rest[0] != ',' {
				return fmt.Errorf("%s: want ','", name)
			}
			rest = rest[1:]
		}
		if string(name) == "MerkleIndex" {
			v, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("MerkleIndex %s: want a non-negative integer", val)
			}
			s.MerkleIndex, s.HasIndex = v, true
			continue
		}
		if str == nil {
			var dec string
			if err := json.Unmarshal(val, &dec); err != nil {
				return fmt.Errorf("%s: want a string", name)
			}
			str = []byte(dec)
		}
		switch string(name) {
		case "Version":
			s.Version = str
		case "EventHash":
			s.EventHash = str
		case "PrevHash":
			s.PrevHash = str
		case "HashAlgo":
			s.HashAlgo = str
		case "Signature":
			s.Signature = str
		case "SignAlgo":
			s.SignAlgo = str
		case "KeyID":
			s.KeyID = str
		case "MerkleRoot":
			s.MerkleRoot = str
		case "AnchorReference":
			s.AnchorReference = str
		default:
			return fmt.Errorf("unknown Security member %q", name)
		}
	}
	return nil
}

// header and payload hold what the completeness and policy checks read.
type header struct {
	EventID         string `json:"EventID"`
	TimestampInt    string `json:"TimestampInt"`
	EventType       string `json:"EventType"`
	ClockSyncStatus string `json:"ClockSyncStatus"`
	Symbol          string `json:"Symbol"`
}

type fixBlock struct {
	SessionID       string `json:"SessionID"`
	MsgType         string `json:"MsgType"`
	MsgSeqNum       int64  `json:"MsgSeqNum"`
	Epoch           int64  `json:"Epoch"`
	AheadOfSequence bool   `json:"AheadOfSequence"`
	Unprocessed     bool   `json:"Unprocessed"`
	PossDupFlag     bool   `json:"PossDupFlag"`
	RawSHA256       string `json:"RawSHA256"`
}

type tapSession struct {
	SessionID        string `json:"SessionID"`
	Reason           string `json:"Reason"`
	PrevEpoch        int64  `json:"PrevEpoch"`
	PrevNextExpected int64  `json:"PrevNextExpected"`
	Epoch            int64  `json:"Epoch"`
	NextExpected     int64  `json:"NextExpected"`
}

type errorDetails struct {
	ErrorCode string `json:"ErrorCode"`
}

type policyIdentification struct {
	PolicyID        string `json:"PolicyID"`
	ConformanceTier string `json:"ConformanceTier"`
}

type payload struct {
	FIX                  *fixBlock             `json:"FIX"`
	TapSession           *tapSession           `json:"TapSession"`
	ErrorDetails         *errorDetails         `json:"ErrorDetails"`
	PolicyIdentification *policyIdentification `json:"PolicyIdentification"`
	// Trade holds the string members of VCP-TRADE, read only when the
	// bundle holds VCP-XREF outcomes to re-check (extractPayload's trade).
	Trade map[string]string `json:"-"`
	// XRef is the VCP-XREF block's bytes, if any.
	XRef []byte `json:"-"`
}

// The verifier reads a handful of fields from every event. encoding/json
// cost about half of the per-event time, so the fields are picked out of
// the (already canonical-checked) bytes by walking the objects' members
// with skipValue; only strings with escapes go through encoding/json.
// FuzzExtract checks this against encoding/json.

// eachMember calls fn for every member of the JSON object obj.
func eachMember(obj []byte, fn func(name string, val []byte) error) error {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return errors.New("not an object")
	}
	rest := obj[1 : len(obj)-1]
	for len(rest) > 0 {
		n, err := skipValue(rest)
		if err != nil || rest[0] != '"' {
			return errors.New("want a member name")
		}
		name, err := jsonString(rest[:n])
		if err != nil {
			return err
		}
		rest = rest[n:]
		if len(rest) == 0 || rest[0] != ':' {
			return fmt.Errorf("%s: want ':'", name)
		}
		rest = rest[1:]
		if n, err = skipValue(rest); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := fn(name, rest[:n]); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rest = rest[n:]
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return fmt.Errorf("%s: want ','", name)
			}
			rest = rest[1:]
		}
	}
	return nil
}

func jsonString(val []byte) (string, error) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", errors.New("want a string")
	}
	if bytes.IndexByte(val, '\\') < 0 {
		return string(val[1 : len(val)-1]), nil
	}
	var s string
	err := json.Unmarshal(val, &s)
	return s, err
}

func jsonInt(val []byte) (int64, error) {
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err != nil {
		return 0, errors.New("want an integer")
	}
	return n, nil
}

func jsonBool(val []byte) (bool, error) {
	switch string(val) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("want true or false")
}

func extractHeader(b []byte, h *header) error {
	return eachMember(b, func(name string, val []byte) (err error) {
		switch name {
		case "EventID":
			h.EventID, err = jsonString(val)
		case "TimestampInt":
			h.TimestampInt, err = jsonString(val)
		case "EventType":
			h.EventType, err = jsonString(val)
		case "ClockSyncStatus":
			h.ClockSyncStatus, err = jsonString(val)
		case "Symbol":
			h.Symbol, err = jsonString(val)
		}
		return err
	})
}

func extractPayload(b []byte, p *payload) error { return extractPayloadTrade(b, p, false) }

// extractPayloadTrade is extractPayload, also reading the VCP-TRADE
// strings when trade is set.
func extractPayloadTrade(b []byte, p *payload, trade bool) error {
	return eachMember(b, func(name string, val []byte) error {
		if string(val) == "null" {
			return nil
		}
		switch name {
		case "VCP-TRADE":
			if !trade {
				return nil
			}
			p.Trade = map[string]string{}
			return eachMember(val, func(name string, v []byte) error {
				if len(v) > 0 && v[0] == '"' {
					s, err := jsonString(v)
					p.Trade[name] = s
					return err
				}
				return nil
			})
		case "VCP-XREF":
			p.XRef = append([]byte(nil), val...)
			return nil
		case "FIX":
			p.FIX = &fixBlock{}
			f := p.FIX
			return eachMember(val, func(name string, v []byte) (err error) {
				switch name {
				case "SessionID":
					f.SessionID, err = jsonString(v)
				case "MsgType":
					f.MsgType, err = jsonString(v)
				case "MsgSeqNum":
					f.MsgSeqNum, err = jsonInt(v)
				case "Epoch":
					f.Epoch, err = jsonInt(v)
				case "AheadOfSequence":
					f.AheadOfSequence, err = jsonBool(v)
				case "Unprocessed":
					f.Unprocessed, err = jsonBool(v)
				case "PossDupFlag":
					f.PossDupFlag, err = jsonBool(v)
				case "RawSHA256":
					f.RawSHA256, err = jsonString(v)
				}
				return err
			})
		case "TapSession":
			p.TapSession = &tapSession{}
			t := p.TapSession
			return eachMember(val, func(name string, v []byte) (err error) {
				switch name {
				case "SessionID":
					t.SessionID, err = jsonString(v)
				case "Reason":
					t.Reason, err = jsonString(v)
				case "PrevEpoch":
					t.PrevEpoch, err = jsonInt(v)
				case "PrevNextExpected":
					t.PrevNextExpected, err = jsonInt(v)
				case "Epoch":
					t.Epoch, err = jsonInt(v)
				case "NextExpected":
					t.NextExpected, err = jsonInt(v)
				}
				return err
			})
		case "ErrorDetails":
			p.ErrorDetails = &errorDetails{}
			return eachMember(val, func(name string, v []byte) (err error) {
				if name == "ErrorCode" {
					p.ErrorDetails.ErrorCode, err = jsonString(v)
				}
				return err
			})
		case "PolicyIdentification":
			p.PolicyIdentification = &policyIdentification{}
			pi := p.PolicyIdentification
			return eachMember(val, func(name string, v []byte) (err error) {
				switch name {
				case "PolicyID":
					pi.PolicyID, err = jsonString(v)
				case "ConformanceTier":
					pi.ConformanceTier, err = jsonString(v)
				}
				return err
			})
		}
		return nil
	})
}
