package jcs

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// Transform parses the JSON text in (strict RFC 8259: exactly one value,
// optionally surrounded by whitespace) and returns its RFC 8785 canonical
// form.
//
// On top of RFC 8259 it enforces the I-JSON constraints of RFC 8785 §3.1
// and some limits of its own, returning an *Error that wraps:
//
//   - ErrSyntax for anything that is not JSON text, including trailing data
//     after the value and empty input;
//   - ErrInvalidUTF8 for bytes that are not UTF-8, inside or outside
//     strings;
//   - ErrLoneSurrogate for a \u escape of a surrogate half not paired
//     high-then-low (RFC 8785 §3.2.2.2, note);
//   - ErrDuplicateKey for two members of one object whose names are equal
//     after unescaping (so {"a":1,"\u0061":2} is rejected);
//   - ErrNonFinite for a number literal whose magnitude rounds beyond the
//     largest double (1e400). A literal too small for a double rounds to
//     zero, as ECMAScript's JSON.parse does, and is accepted;
//   - ErrTooDeep for arrays and objects nested more than 1000 deep.
//
// Numbers are converted as text with strconv.ParseFloat and written back
// with AppendFloat: that is the JCS number model (RFC 8785 §3.2.2.3), in
// which every number is an IEEE 754 double. Integers of up to 15 digits,
// which a double holds exactly and which ECMAScript prints digit for digit,
// are copied without conversion.
//
// Work and memory are linear in the size of the input: the document is
// parsed into a flat tree whose leaves point into the input wherever no
// unescaping was needed, and the canonical form is written in one pass.
func Transform(in []byte) ([]byte, error) {
	p := parser{
		in:    in,
		nodes: make([]node, 0, len(in)/16+1),
		// Room for escaped strings and rewritten numbers in typical input;
		// append grows it if not.
		data: make([]byte, 0, len(in)/4+16),
	}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	return p.write(make([]byte, 0, len(in)), root), nil
}

// parse parses p.in as one JSON text and returns its root node.
func (p *parser) parse() (int, error) {
	p.skipSpace()
	root, err := p.value()
	if err != nil {
		return 0, err
	}
	p.skipSpace()
	if p.pos < len(p.in) {
		return 0, p.unexpected("after the JSON value")
	}
	return root, nil
}

// A Transformer is Transform for callers that canonicalize many documents
// (the bundle verifier checks every event): it keeps its buffers between
// calls instead of allocating them each time. The result of Transform is
// valid until the next call. A Transformer is not safe for concurrent use;
// the zero value is ready.
type Transformer struct {
	p   parser
	out []byte
}

// Transform is the package's Transform, into reused buffers.
func (t *Transformer) Transform(in []byte) ([]byte, error) {
	t.p = parser{in: in, nodes: t.p.nodes[:0], data: t.p.data[:0], order: t.p.order[:0]}
	root, err := t.p.parse()
	if err != nil {
		return nil, err
	}
	t.out = t.p.write(t.out[:0], root)
	t.p.in = nil
	return t.out, nil
}

// kind is the type of a parsed JSON value.
type kind uint8

const (
	kindNull kind = iota
	kindTrue
	kindFalse
	kindNumber // text: canonical number text
	kindString // text: unescaped UTF-8
	kindArray
	kindObject
)

// span locates text either in the input (when it needed no rewriting) or
// in parser.data.
type span struct {
	start, end int
	inData     bool
}

// node is one parsed value. Children of an array or object form a singly
// linked list through first and next (-1 ends it), in document order for
// arrays and in canonical order (RFC 8785 §3.2.3) for objects.
type node struct {
	text   span // kindNumber, kindString
	name   span // member name, unescaped, when the parent is an object
	nameAt int  // input offset of the member name, for errors
	first  int
	next   int
	kind   kind
}

type parser struct {
	in    []byte
	pos   int
	depth int
	nodes []node
	data  []byte // unescaped strings and rewritten numbers
	order []int  // scratch for sorting members
}

func (p *parser) text(s span) []byte {
	if s.inData {
		return p.data[s.start:s.end]
	}
	return p.in[s.start:s.end]
}

func (p *parser) add(k kind) int {
	p.nodes = append(p.nodes, node{kind: k, first: -1, next: -1})
	return len(p.nodes) - 1
}

func (p *parser) fail(off int, err error, detail string) error {
	return &Error{Offset: off, Detail: detail, Err: err}
}

// unexpected reports the byte at p.pos, or the end of input. Outside
// strings only ASCII is valid JSON, so any other byte is a syntax error;
// it is reported as ErrInvalidUTF8 instead when it does not even start a
// well-formed UTF-8 sequence.
func (p *parser) unexpected(where string) error {
	if p.pos >= len(p.in) {
		return p.fail(p.pos, ErrSyntax, "unexpected end of input "+where)
	}
	if p.in[p.pos] >= utf8.RuneSelf {
		if _, err := p.utf8At(p.pos); err != nil {
			return err
		}
	}
	return p.fail(p.pos, ErrSyntax, "unexpected byte "+quoteDetail(p.in[p.pos:p.pos+1])+" "+where)
}

// skipSpace skips the four whitespace bytes of RFC 8259 §2.
func (p *parser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value starting at p.pos and returns its node.
func (p *parser) value() (int, error) {
	if p.pos >= len(p.in) {
		return -1, p.unexpected("where a value was expected")
	}
	switch c := p.in[p.pos]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		s, err := p.str()
		if err != nil {
			return -1, err
		}
		n := p.add(kindString)
		p.nodes[n].text = s
		return n, nil
	case 't':
		return p.literal("true", kindTrue)
	case 'f':
		return p.literal("false", kindFalse)
	case 'n':
		return p.literal("null", kindNull)
	default:
		if c == '-' || isDigit(c) {
			return p.number()
		}
		return -1, p.unexpected("where a value was expected")
	}
}

// literal parses null, true or false (RFC 8785 §3.2.2.1: written back as
// is).
func (p *parser) literal(word string, k kind) (int, error) {
	if len(p.in)-p.pos < len(word) || string(p.in[p.pos:p.pos+len(word)]) != word {
		return -1, p.unexpected("where a value was expected")
	}
	p.pos += len(word)
	return p.add(k), nil
}

// open enters an array or object, enforcing the nesting limit.
func (p *parser) open() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail(p.pos, ErrTooDeep, "more than "+strconv.Itoa(maxDepth)+" nested arrays and objects")
	}
	p.pos++ // '[' or '{'
	p.skipSpace()
	return nil
}

func (p *parser) array() (int, error) {
	if err := p.open(); err != nil {
		return -1, err
	}
	arr := p.add(kindArray)
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		p.depth--
		return arr, nil
	}
	last := -1
	for {
		p.skipSpace()
		child, err := p.value()
		if err != nil {
			return -1, err
		}
		if last < 0 {
			p.nodes[arr].first = child
		} else {
			p.nodes[last].next = child
		}
		last = child
		p.skipSpace()
		if p.pos < len(p.in) {
			switch p.in[p.pos] {
			case ',':
				p.pos++
				continue
			case ']':
				p.pos++
				p.depth--
				return arr, nil
			}
		}
		return -1, p.unexpected("in array, where ',' or ']' was expected")
	}
}

func (p *parser) object() (int, error) {
	if err := p.open(); err != nil {
		return -1, err
	}
	obj := p.add(kindObject)
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		p.depth--
		return obj, nil
	}
	last, members := -1, 0
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return -1, p.unexpected("in object, where a member name was expected")
		}
		nameAt := p.pos
		name, err := p.str()
		if err != nil {
			return -1, err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return -1, p.unexpected("in object, where ':' was expected")
		}
		p.pos++
		p.skipSpace()
		child, err := p.value()
		if err != nil {
			return -1, err
		}
		p.nodes[child].name = name
		p.nodes[child].nameAt = nameAt
		if last < 0 {
			p.nodes[obj].first = child
		} else {
			p.nodes[last].next = child
		}
		last = child
		members++
		p.skipSpace()
		if p.pos < len(p.in) {
			switch p.in[p.pos] {
			case ',':
				p.pos++
				continue
			case '}':
				p.pos++
				p.depth--
				return obj, p.sortMembers(obj, members)
			}
		}
		return -1, p.unexpected("in object, where ',' or '}' was expected")
	}
}

// sortMembers puts the members of obj in RFC 8785 §3.2.3 order (UTF-16
// code units of the unescaped names, see Less) and rejects duplicate names
// (RFC 8785 §3.1), which the sort makes adjacent.
func (p *parser) sortMembers(obj, members int) error {
	if members < 2 {
		return nil
	}
	// Nested objects were sorted when they closed, so the scratch slice is
	// free here.
	if cap(p.order) < members {
		p.order = make([]int, 0, max(members, 16))
	}
	order := p.order[:0]
	for c := p.nodes[obj].first; c >= 0; c = p.nodes[c].next {
		order = append(order, c)
	}
	cmp := func(a, b int) int {
		return compareUTF16(p.text(p.nodes[a].name), p.text(p.nodes[b].name))
	}
	if !slices.IsSortedFunc(order, cmp) {
		slices.SortStableFunc(order, cmp)
		p.nodes[obj].first = order[0]
		for i, c := range order {
			if i+1 < len(order) {
				p.nodes[c].next = order[i+1]
			} else {
				p.nodes[c].next = -1
			}
		}
	}
	for i := 1; i < len(order); i++ {
		if cmp(order[i-1], order[i]) == 0 {
			// The sort is stable, so order[i] is the later occurrence.
			later := p.nodes[order[i]]
			return p.fail(later.nameAt, ErrDuplicateKey, quoteDetail(p.text(later.name)))
		}
	}
	return nil
}

// Byte classes inside a string literal.
const (
	strPlain     = iota // copied as is
	strQuote            // '"' ends the string
	strBackslash        // '\\' starts an escape
	strControl          // U+0000..U+001F must be escaped in JSON text
	strNonASCII         // a byte of a multi-byte UTF-8 sequence
)

var strClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20:
			t[c] = strControl
		case c == '"':
			t[c] = strQuote
		case c == '\\':
			t[c] = strBackslash
		case c >= utf8.RuneSelf:
			t[c] = strNonASCII
		}
	}
	return t
}()

// str parses the string literal starting at p.pos (a '"') and returns its
// unescaped text. Text without escapes is returned as a span of the input.
func (p *parser) str() (span, error) {
	open := p.pos
	start := p.pos + 1
	i := start
	for {
		for i < len(p.in) && strClass[p.in[i]] == strPlain {
			i++
		}
		if i >= len(p.in) {
			return span{}, p.fail(open, ErrSyntax, "unterminated string")
		}
		switch strClass[p.in[i]] {
		case strQuote:
			p.pos = i + 1
			return span{start: start, end: i}, nil
		case strBackslash:
			return p.strEscaped(open, start, i)
		case strControl:
			return span{}, p.fail(i, ErrSyntax, "unescaped control character "+quoteDetail(p.in[i:i+1])+" in string")
		default:
			n, err := p.utf8At(i)
			if err != nil {
				return span{}, err
			}
			i += n
		}
	}
}

// utf8At validates the multi-byte sequence at p.in[i] and returns its
// length. utf8.DecodeRune rejects overlong forms, surrogate halves
// (U+D800..U+DFFF encoded in UTF-8) and code points beyond U+10FFFF.
func (p *parser) utf8At(i int) (int, error) {
	r, size := utf8.DecodeRune(p.in[i:])
	if r == utf8.RuneError && size <= 1 {
		return 0, p.fail(i, ErrInvalidUTF8, "byte "+quoteDetail(p.in[i:i+1]))
	}
	return size, nil
}

// strEscaped continues str from the first backslash at p.in[i], unescaping
// into p.data.
func (p *parser) strEscaped(open, start, i int) (span, error) {
	base := len(p.data)
	p.data = append(p.data, p.in[start:i]...)
	for {
		run := i
		for i < len(p.in) && strClass[p.in[i]] == strPlain {
			i++
		}
		p.data = append(p.data, p.in[run:i]...)
		if i >= len(p.in) {
			return span{}, p.fail(open, ErrSyntax, "unterminated string")
		}
		switch strClass[p.in[i]] {
		case strQuote:
			p.pos = i + 1
			return span{start: base, end: len(p.data), inData: true}, nil
		case strControl:
			return span{}, p.fail(i, ErrSyntax, "unescaped control character "+quoteDetail(p.in[i:i+1])+" in string")
		case strNonASCII:
			n, err := p.utf8At(i)
			if err != nil {
				return span{}, err
			}
			p.data = append(p.data, p.in[i:i+n]...)
			i += n
			continue
		}
		// strBackslash
		if i+1 >= len(p.in) {
			return span{}, p.fail(open, ErrSyntax, "unterminated string")
		}
		switch e := p.in[i+1]; e {
		case '"', '\\', '/':
			p.data = append(p.data, e)
		case 'b':
			p.data = append(p.data, '\b')
		case 'f':
			p.data = append(p.data, '\f')
		case 'n':
			p.data = append(p.data, '\n')
		case 'r':
			p.data = append(p.data, '\r')
		case 't':
			p.data = append(p.data, '\t')
		case 'u':
			r, n, err := p.uEscape(i)
			if err != nil {
				return span{}, err
			}
			p.data = utf8.AppendRune(p.data, r)
			i += n
			continue
		default:
			return span{}, p.fail(i, ErrSyntax, "invalid escape "+quoteDetail(p.in[i:i+2]))
		}
		i += 2
	}
}

// uEscape decodes the \uXXXX escape at p.in[i], and the low-surrogate
// escape that must follow it if it is a high surrogate. It returns the code
// point and the number of input bytes consumed (6 or 12). Any surrogate
// half not paired high-then-low is rejected (RFC 8785 §3.2.2.2, note):
// decoding it to U+FFFD would silently alter the string (§3.1).
func (p *parser) uEscape(i int) (rune, int, error) {
	hi, ok := hex4(p.in, i+2)
	if !ok {
		return 0, 0, p.fail(i, ErrSyntax, "invalid \\u escape "+quoteDetail(p.in[i:min(i+6, len(p.in))]))
	}
	switch {
	case hi < 0xD800 || hi > 0xDFFF:
		return hi, 6, nil
	case hi >= 0xDC00:
		return 0, 0, p.fail(i, ErrLoneSurrogate, "low surrogate "+quoteDetail(p.in[i:i+6])+" without a high surrogate before it")
	}
	j := i + 6
	if j+1 >= len(p.in) || p.in[j] != '\\' || p.in[j+1] != 'u' {
		return 0, 0, p.fail(i, ErrLoneSurrogate, "high surrogate "+quoteDetail(p.in[i:j])+" not followed by a \\u escape")
	}
	lo, ok := hex4(p.in, j+2)
	if !ok {
		return 0, 0, p.fail(j, ErrSyntax, "invalid \\u escape "+quoteDetail(p.in[j:min(j+6, len(p.in))]))
	}
	if lo < 0xDC00 || lo > 0xDFFF {
		return 0, 0, p.fail(i, ErrLoneSurrogate, "high surrogate "+quoteDetail(p.in[i:j])+" followed by "+quoteDetail(p.in[j:j+6])+", not by a low surrogate")
	}
	return 0x10000 + (hi-0xD800)<<10 + (lo - 0xDC00), 12, nil
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number parses a number by the grammar of RFC 8259 §6 and stores its
// canonical text (RFC 8785 §3.2.2.3):
//
//	number = [ "-" ] int [ frac ] [ exp ]
//	int    = "0" / ( digit1-9 *DIGIT )
//	frac   = "." 1*DIGIT
//	exp    = ("e" / "E") [ "-" / "+" ] 1*DIGIT
func (p *parser) number() (int, error) {
	start := p.pos
	i := start
	if p.in[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i < len(p.in) && p.in[i] == '0':
		i++
	case i < len(p.in) && isDigit(p.in[i]):
		for i < len(p.in) && isDigit(p.in[i]) {
			i++
		}
	default:
		p.pos = i
		return -1, p.unexpected("in number, where a digit was expected")
	}
	intDigits := i - digits
	integer := true
	if i < len(p.in) && p.in[i] == '.' {
		integer = false
		i++
		if i >= len(p.in) || !isDigit(p.in[i]) {
			p.pos = i
			return -1, p.unexpected("in number, where a fraction digit was expected")
		}
		for i < len(p.in) && isDigit(p.in[i]) {
			i++
		}
	}
	if i < len(p.in) && (p.in[i] == 'e' || p.in[i] == 'E') {
		integer = false
		i++
		if i < len(p.in) && (p.in[i] == '+' || p.in[i] == '-') {
			i++
		}
		if i >= len(p.in) || !isDigit(p.in[i]) {
			p.pos = i
			return -1, p.unexpected("in number, where an exponent digit was expected")
		}
		for i < len(p.in) && isDigit(p.in[i]) {
			i++
		}
	}
	p.pos = i
	n := p.add(kindNumber)

	// An integer of at most 15 digits is below 2^53, so it is exactly a
	// double, and below 1e21, so ECMAScript prints its digits as they are.
	// The grammar already excludes leading zeros; only "-0" changes: it
	// prints as "0", which is its own last byte.
	if integer && intDigits <= 15 {
		if i-start == 2 && p.in[start] == '-' && p.in[start+1] == '0' {
			start++
		}
		p.nodes[n].text = span{start: start, end: i}
		return n, nil
	}

	f, err := strconv.ParseFloat(string(p.in[start:i]), 64)
	if err != nil {
		// The grammar was checked above, so this is ErrRange: the
		// literal rounds beyond the largest double.
		return -1, p.fail(start, ErrNonFinite, "number "+quoteDetail(p.in[start:i])+" overflows an IEEE 754 double")
	}
	base := len(p.data)
	p.data, err = AppendFloat(p.data, f)
	if err != nil {
		return -1, p.fail(start, ErrNonFinite, "number "+quoteDetail(p.in[start:i]))
	}
	p.nodes[n].text = span{start: base, end: len(p.data), inData: true}
	return n, nil
}

// write appends the canonical form of node n: no whitespace (RFC 8785
// §3.2.1), literals as is (§3.2.2.1), strings per §3.2.2.2, numbers as
// already canonicalized by number, members in the order sortMembers set.
func (p *parser) write(dst []byte, n int) []byte {
	nd := &p.nodes[n]
	switch nd.kind {
	case kindNull:
		return append(dst, "null"...)
	case kindTrue:
		return append(dst, "true"...)
	case kindFalse:
		return append(dst, "false"...)
	case kindNumber:
		return append(dst, p.text(nd.text)...)
	case kindString:
		return appendValidString(dst, p.text(nd.text))
	case kindArray:
		dst = append(dst, '[')
		for c := nd.first; c >= 0; c = p.nodes[c].next {
			if c != nd.first {
				dst = append(dst, ',')
			}
			dst = p.write(dst, c)
		}
		return append(dst, ']')
	default: // kindObject
		dst = append(dst, '{')
		for c := nd.first; c >= 0; c = p.nodes[c].next {
			if c != nd.first {
				dst = append(dst, ',')
			}
			dst = appendValidString(dst, p.text(p.nodes[c].name))
			dst = append(dst, ':')
			dst = p.write(dst, c)
		}
		return append(dst, '}')
	}
}
