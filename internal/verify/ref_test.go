package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The verifier's first skipValue, parseSecurity and parseHex32, kept as the reference
// the faster ones are fuzzed against (FuzzParseLine): the same lengths, the
// same values, the same errors, for any input.

// skipValueRef returns the length of the JSON value at the start of b. It
// checks structure (brackets, strings, literals) but not every detail of
// numbers or escapes: the canonical-form check does that.
func skipValueRef(b []byte) (int, error) {
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
			// Find the closing quote: the next '"' not escaped by an odd
			// run of backslashes (IndexByte is vectorised).
			i++
			for {
				q := bytes.IndexByte(b[i:], '"')
				if q < 0 {
					return 0, errors.New("unterminated string")
				}
				j := i + q
				bs := 0
				for k := j - 1; k >= i && b[k] == '\\'; k-- {
					bs++
				}
				i = j + 1
				if bs%2 == 0 {
					break
				}
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

// parseSecurityRef decodes a canonical Security object: a flat object whose
// values are strings or one integer. Unknown members are an error.
func parseSecurityRef(b []byte) (security, error) {
	var s security
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return s, errors.New("not an object")
	}
	rest := b[1 : len(b)-1]
	for len(rest) > 0 {
		if rest[0] != '"' {
			return s, errors.New("want a member name")
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return s, errors.New("unterminated member name")
		}
		name := string(rest[1 : 1+end])
		rest = rest[2+end:]
		if len(rest) == 0 || rest[0] != ':' {
			return s, fmt.Errorf("%s: want ':'", name)
		}
		rest = rest[1:]
		n, err := skipValueRef(rest)
		if err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
		val := rest[:n]
		rest = rest[n:]
		if len(rest) > 0 {
			if rest[0] != ',' {
				return s, fmt.Errorf("%s: want ','", name)
			}
			rest = rest[1:]
		}
		if name == "MerkleIndex" {
			v, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || v < 0 {
				return s, fmt.Errorf("MerkleIndex %s: want a non-negative integer", val)
			}
			s.MerkleIndex, s.HasIndex = v, true
			continue
		}
		var str string
		if len(val) >= 2 && val[0] == '"' && bytes.IndexByte(val, '\\') < 0 {
			str = string(val[1 : len(val)-1])
		} else if err := json.Unmarshal(val, &str); err != nil {
			return s, fmt.Errorf("%s: want a string", name)
		}
		switch name {
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
			return s, fmt.Errorf("unknown Security member %q", name)
		}
	}
	return s, nil
}

func parseHex32Ref(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, errors.New("want 64 lowercase hex digits")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'F' {
			return h, errors.New("want 64 lowercase hex digits")
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}
