package jcs

import (
	"bytes"
	"unicode/utf8"
)

// IsCanonical reports whether in is exactly RFC 8785 output: whether
// Transform(in) would succeed and return in unchanged. It checks in one
// pass without building a tree, so a verifier can check every event's
// bytes cheaply; FuzzTransform holds it to Transform's answer.
//
// What canonical means here, beyond well-formed JSON: no whitespace; the
// members of every object in strictly increasing order of their names'
// UTF-16 code units (so no duplicates); strings in valid UTF-8 with only
// the escapes §3.2.2.2 prescribes (\" \\ \b \f \n \r \t, and \u00xx in
// lowercase hex for the other control characters); numbers as ECMAScript
// prints them.
func IsCanonical(in []byte) bool {
	c := checker{in: in}
	return c.value(0) && c.pos == len(in)
}

type checker struct {
	in  []byte
	pos int
}

func (c *checker) value(depth int) bool {
	if c.pos >= len(c.in) {
		return false
	}
	switch b := c.in[c.pos]; b {
	case '{':
		return c.object(depth + 1)
	case '[':
		return c.array(depth + 1)
	case '"':
		_, ok := c.str()
		return ok
	case 't':
		return c.lit("true")
	case 'f':
		return c.lit("false")
	case 'n':
		return c.lit("null")
	default:
		return c.number()
	}
}

func (c *checker) lit(s string) bool {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(s)) {
		return false
	}
	c.pos += len(s)
	return true
}

func (c *checker) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	c.pos++ // '['
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		return true
	}
	for {
		if !c.value(depth) {
			return false
		}
		if c.pos >= len(c.in) {
			return false
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
		case ']':
			c.pos++
			return true
		default:
			return false
		}
	}
}

func (c *checker) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	c.pos++ // '{'
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		return true
	}
	var prev []byte
	for i := 0; ; i++ {
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return false
		}
		name, ok := c.str()
		if !ok {
			return false
		}
		if i > 0 && compareUTF16(prev, name) >= 0 {
			return false
		}
		prev = name
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return false
		}
		c.pos++
		if !c.value(depth) {
			return false
		}
		if c.pos >= len(c.in) {
			return false
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
		case '}':
			c.pos++
			return true
		default:
			return false
		}
	}
}

// str checks a canonical string at c.pos and returns its unescaped bytes
// (aliasing the input unless it holds escapes).
func (c *checker) str() ([]byte, bool) {
	start := c.pos + 1
	i := start
	var esc []byte // unescaped copy, once an escape is seen
	for i < len(c.in) {
		b := c.in[i]
		switch {
		case b == '"':
			c.pos = i + 1
			if esc != nil {
				return esc, true
			}
			return c.in[start:i], true
		case b < 0x20:
			return nil, false
		case b == '\\':
			if esc == nil {
				esc = append([]byte(nil), c.in[start:i]...)
			}
			if i+1 >= len(c.in) {
				return nil, false
			}
			switch e := c.in[i+1]; e {
			case '"', '\\':
				esc = append(esc, e)
			case 'b':
				esc = append(esc, '\b')
			case 'f':
				esc = append(esc, '\f')
			case 'n':
				esc = append(esc, '\n')
			case 'r':
				esc = append(esc, '\r')
			case 't':
				esc = append(esc, '\t')
			case 'u':
				// Only control characters without a short form, as \u00xx
				// in lowercase hex.
				if i+6 > len(c.in) || c.in[i+2] != '0' || c.in[i+3] != '0' {
					return nil, false
				}
				hi, lo := hexDigitLower(c.in[i+4]), hexDigitLower(c.in[i+5])
				if hi < 0 || lo < 0 || hi > 1 {
					return nil, false
				}
				r := byte(hi<<4 | lo)
				if r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t' {
					return nil, false
				}
				esc = append(esc, r)
				i += 6
				continue
			default:
				return nil, false
			}
			i += 2
		case b < utf8.RuneSelf:
			if esc != nil {
				esc = append(esc, b)
			}
			i++
		default:
			r, n := utf8.DecodeRune(c.in[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, false
			}
			if esc != nil {
				esc = append(esc, c.in[i:i+n]...)
			}
			i += n
		}
	}
	return nil, false
}

func hexDigitLower(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	}
	return -1
}

// number checks a canonical number. Integers of up to 15 digits (no
// leading zero, no "-0") are canonical as they stand; anything else is
// rare in fixtap's events and is checked by transforming the token.
func (c *checker) number() bool {
	start := c.pos
	i := start
	for i < len(c.in) && (isDigit(c.in[i]) || c.in[i] == '-' || c.in[i] == '+' || c.in[i] == '.' || c.in[i] == 'e' || c.in[i] == 'E') {
		i++
	}
	tok := c.in[start:i]
	c.pos = i
	if len(tok) == 0 {
		return false
	}
	d := tok
	if d[0] == '-' {
		d = d[1:]
	}
	if n := len(d); n >= 1 && n <= 15 && (d[0] != '0' || (n == 1 && len(tok) == 1)) {
		plain := true
		for _, b := range d {
			if !isDigit(b) {
				plain = false
				break
			}
		}
		if plain {
			return true
		}
	}
	out, err := Transform(tok)
	return err == nil && bytes.Equal(out, tok)
}
