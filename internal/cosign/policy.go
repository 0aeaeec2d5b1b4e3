package cosign

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// A witness policy, one statement per line, in the Sigsum policy format
// (https://git.glasklar.is/sigsum/core/sigsum-go/-/blob/main/doc/policy.md)
// with C2SP vkeys, as tessera's NewWitnessGroupFromPolicy reads it:
//
//	log VKEY [URL]                   the log (fixtap's checkpoint key); recorded
//	witness NAME VKEY [URL]          a witness: cosignature/v1 vkey, submission prefix
//	group NAME k|any|all MEMBER…     met when k of its members are (any = 1, all = every one)
//	quorum NAME|none                 what fixtap requires; none: no witnessing
//
// "#" starts a comment that runs to the end of the line; fields are
// separated by spaces or tabs; blank lines are ignored; a line may end in
// "\r\n". Stricter than tessera: every name must be defined before it is
// used (members and the quorum), names are unique across witnesses and
// groups and are not keywords, a group lists a member once and has a
// threshold 1 ≤ k ≤ its members, two witnesses never share a public key
// (cosignature/v1 does not commit to the name, C2SP tlog-cosignature), URLs
// are absolute http(s) with no query, and there is exactly one quorum line.

// maxPolicy caps a policy file.
const maxPolicy = 64 << 10

// maxName caps a witness or group name.
const maxName = 128

// ErrPolicyUnsatisfied is wrapped by Check when the cosignatures on a note
// do not meet the policy's quorum.
var ErrPolicyUnsatisfied = errors.New("cosign: witness policy not satisfied")

// PolicyError reports a policy that cannot be parsed: the file, the line
// (1-based; 0 for the file as a whole) and what is wrong.
type PolicyError struct {
	File string
	Line int
	Msg  string
}

func (e *PolicyError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("cosign: policy %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("cosign: policy %s:%d: %s", e.File, e.Line, e.Msg)
}

// Witness is one witness of a policy.
type Witness struct {
	Name        string // the policy's name for it
	VerifierKey string // its cosignature/v1 vkey, as written
	URL         string // its submission prefix; "" when the policy gives none
	Verifier    note.Verifier
}

// Log is a log line of a policy.
type Log struct {
	VerifierKey string
	URL         string
	Verifier    note.Verifier
}

// component is a witness or a group, in definition order.
type component struct {
	name    string
	witness int    // index into Policy.witnesses, or -1 for a group
	k       int    // group threshold
	thresh  string // the threshold as written: a decimal, "any" or "all"
	members []int  // indices of earlier components
}

// keyID identifies a note key as note.Open looks it up.
type keyID struct {
	name string
	hash uint32
}

// Policy is a parsed witness policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	file       string
	logs       []Log
	witnesses  []Witness
	components []component
	byName     map[string]int // name → component index
	byKey      map[keyID]int  // witness key → witness index
	quorum     int            // component index; -1 for none
}

var keywords = map[string]bool{
	"log": true, "witness": true, "group": true, "quorum": true,
	"any": true, "all": true, "none": true,
}

// ParsePolicy parses a witness policy (see the grammar above). name is the
// file's name, used in errors (*PolicyError) only.
func ParsePolicy(name string, text []byte) (*Policy, error) {
	p := &Policy{file: name, byName: map[string]int{}, byKey: map[keyID]int{}, quorum: -1}
	fail := func(line int, format string, args ...any) (*Policy, error) {
		return nil, &PolicyError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(text) > maxPolicy {
		return fail(0, "%d bytes, more than %d", len(text), maxPolicy)
	}
	if !utf8.Valid(text) {
		return fail(0, "not UTF-8")
	}
	pubs := map[string]string{} // public key → witness name
	haveQuorum := false
	for i, line := range bytes.Split(text, []byte("\n")) {
		ln := i + 1
		line = bytes.TrimSuffix(line, []byte("\r"))
		if c := bytes.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		if bytes.ContainsFunc(line, func(r rune) bool { return r != '\t' && isControl(r) }) {
			return fail(ln, "control character")
		}
		f := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 {
			continue
		}
		if haveQuorum {
			return fail(ln, "%q after the quorum line: the quorum comes last", f[0])
		}
		switch f[0] {
		case "log":
			if len(f) < 2 || len(f) > 3 {
				return fail(ln, "want: log VKEY [URL]")
			}
			v, err := note.NewVerifier(f[1])
			if err != nil {
				return fail(ln, "log key %q: %v", f[1], err)
			}
			l := Log{VerifierKey: f[1], Verifier: v}
			if len(f) == 3 {
				if l.URL, err = checkURL(f[2]); err != nil {
					return fail(ln, "log URL: %v", err)
				}
			}
			p.logs = append(p.logs, l)
		case "witness":
			if len(f) < 3 || len(f) > 4 {
				return fail(ln, "want: witness NAME VKEY [URL]")
			}
			if msg := p.checkNewName(f[1]); msg != "" {
				return fail(ln, "witness %s", msg)
			}
			v, err := NewVerifier(f[2])
			if err != nil {
				return fail(ln, "witness %s: %v", f[1], err)
			}
			pub := v.(*verifier).pub
			if other, dup := pubs[string(pub)]; dup {
				return fail(ln, "witness %s has the public key of witness %s (cosignature/v1 does not commit to the name: one key per witness)", f[1], other)
			}
			id := keyID{v.Name(), v.KeyHash()}
			if j, dup := p.byKey[id]; dup {
				return fail(ln, "witness %s has the key name and ID of witness %s", f[1], p.witnesses[j].Name)
			}
			w := Witness{Name: f[1], VerifierKey: f[2], Verifier: v}
			if len(f) == 4 {
				if w.URL, err = checkURL(f[3]); err != nil {
					return fail(ln, "witness %s URL: %v", f[1], err)
				}
			}
			pubs[string(pub)] = f[1]
			p.byKey[id] = len(p.witnesses)
			p.byName[f[1]] = len(p.components)
			p.components = append(p.components, component{name: f[1], witness: len(p.witnesses)})
			p.witnesses = append(p.witnesses, w)
		case "group":
			if len(f) < 4 {
				return fail(ln, "want: group NAME k|any|all MEMBER…")
			}
			if msg := p.checkNewName(f[1]); msg != "" {
				return fail(ln, "group %s", msg)
			}
			members := make([]int, 0, len(f)-3)
			for _, m := range f[3:] {
				j, ok := p.byName[m]
				if !ok {
					return fail(ln, "group %s: member %q is not defined above", f[1], m)
				}
				if slices.Contains(members, j) {
					return fail(ln, "group %s: member %s listed twice", f[1], m)
				}
				members = append(members, j)
			}
			var k int
			switch f[2] {
			case "any":
				k = 1
			case "all":
				k = len(members)
			default:
				n, err := strconv.ParseUint(f[2], 10, 16)
				if err != nil || f[2] != strconv.FormatUint(n, 10) {
					return fail(ln, "group %s: threshold %q: want a decimal, any or all", f[1], f[2])
				}
				k = int(n)
			}
			if k < 1 || k > len(members) {
				return fail(ln, "group %s: threshold %d with %d members: want 1 ≤ k ≤ members", f[1], k, len(members))
			}
			p.byName[f[1]] = len(p.components)
			p.components = append(p.components, component{name: f[1], witness: -1, k: k, thresh: f[2], members: members})
		case "quorum":
			if len(f) != 2 {
				return fail(ln, "want: quorum NAME|none")
			}
			if f[1] != "none" {
				j, ok := p.byName[f[1]]
				if !ok {
					return fail(ln, "quorum %q is not defined above", f[1])
				}
				p.quorum = j
			}
			haveQuorum = true
		default:
			return fail(ln, "unknown keyword %q", f[0])
		}
	}
	if !haveQuorum {
		return fail(0, "no quorum line")
	}
	return p, nil
}

// checkNewName returns why name cannot name a new witness or group, or "".
func (p *Policy) checkNewName(name string) string {
	switch {
	case keywords[name]:
		return fmt.Sprintf("name %q is a keyword", name)
	case len(name) > maxName:
		return fmt.Sprintf("name of %d bytes, more than %d", len(name), maxName)
	}
	if _, dup := p.byName[name]; dup {
		return fmt.Sprintf("name %q is already defined", name)
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// checkURL accepts an absolute http or https URL with a host and no query,
// user or fragment, and returns it as written.
func checkURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q: want http(s)://host[/path], no user, query or fragment", s)
	}
	return s, nil
}

// File returns the name the policy was parsed under.
func (p *Policy) File() string { return p.file }

// Witnesses returns the policy's witnesses, in definition order.
func (p *Policy) Witnesses() []Witness { return slices.Clone(p.witnesses) }

// Logs returns the policy's log lines, in order.
func (p *Policy) Logs() []Log { return slices.Clone(p.logs) }

// Quorum returns the name of the quorum component, or "none".
func (p *Policy) Quorum() string {
	if p.quorum < 0 {
		return "none"
	}
	return p.components[p.quorum].name
}

// Verifiers returns the witnesses' verifiers, in definition order.
func (p *Policy) Verifiers() []note.Verifier {
	vs := make([]note.Verifier, len(p.witnesses))
	for i, w := range p.witnesses {
		vs[i] = w.Verifier
	}
	return vs
}

// Satisfied reports whether the witnesses named true in cosigners (by
// their policy names) meet the quorum. Names the policy does not know
// count for nothing. A "quorum none" policy is always satisfied.
func (p *Policy) Satisfied(cosigners map[string]bool) bool {
	if p.quorum < 0 {
		return true
	}
	// Components refer only to earlier ones, so one pass in definition
	// order evaluates every group once (a shared member is not
	// re-evaluated per path).
	met := make([]bool, p.quorum+1)
	for i, c := range p.components[:p.quorum+1] {
		if c.witness >= 0 {
			met[i] = cosigners[c.name]
			continue
		}
		n := 0
		for _, m := range c.members {
			if met[m] {
				n++
			}
		}
		met[i] = n >= c.k
	}
	return met[p.quorum]
}

// Need describes what the quorum requires, for messages: e.g.
// "g: 2 of (w1, w2)", with nested groups in brackets.
func (p *Policy) Need() string {
	if p.quorum < 0 {
		return "none"
	}
	return p.components[p.quorum].name + ": " + p.describe(p.quorum)
}

func (p *Policy) describe(i int) string {
	c := p.components[i]
	if c.witness >= 0 {
		return c.name
	}
	parts := make([]string, len(c.members))
	for j, m := range c.members {
		if p.components[m].witness >= 0 {
			parts[j] = p.components[m].name
		} else {
			parts[j] = p.components[m].name + "[" + p.describe(m) + "]"
		}
	}
	return fmt.Sprintf("%d of (%s)", c.k, strings.Join(parts, ", "))
}

// String returns the policy in canonical form: one statement per line in
// definition order, single spaces, no comments, thresholds as written.
// ParsePolicy of it gives the same policy.
func (p *Policy) String() string {
	var b strings.Builder
	for _, l := range p.logs {
		b.WriteString("log " + l.VerifierKey)
		if l.URL != "" {
			b.WriteString(" " + l.URL)
		}
		b.WriteByte('\n')
	}
	for _, c := range p.components {
		if c.witness >= 0 {
			w := p.witnesses[c.witness]
			b.WriteString("witness " + w.Name + " " + w.VerifierKey)
			if w.URL != "" {
				b.WriteString(" " + w.URL)
			}
			b.WriteByte('\n')
			continue
		}
		b.WriteString("group " + c.name + " " + c.thresh)
		for _, m := range c.members {
			b.WriteString(" " + p.components[m].name)
		}
		b.WriteByte('\n')
	}
	b.WriteString("quorum " + p.Quorum() + "\n")
	return b.String()
}

// Digest returns SHA-256 of the canonical form (String), to record which
// policy a check used.
func (p *Policy) Digest() [32]byte { return sha256.Sum256([]byte(p.String())) }

// Cosig is one verified cosignature on a note.
type Cosig struct {
	Witness string // the policy's name for the witness
	KeyHash uint32
	Time    time.Time // the cosignature's timestamp (whole seconds, UTC)
}

// Result is what Check found on a note.
type Result struct {
	// Text is the note's body (the checkpoint), as signed.
	Text string
	// Cosigs are the verified cosignatures of the policy's witnesses, in
	// the order of the note's signature lines.
	Cosigs []Cosig
}

// Cosigners returns the set of witnesses that cosigned, by policy name.
func (r *Result) Cosigners() map[string]bool {
	m := make(map[string]bool, len(r.Cosigs))
	for _, c := range r.Cosigs {
		m[c.Witness] = true
	}
	return m
}

// Check opens signedNote with the log's verifier and every witness
// verifier of the policy (signed-note: signatures by unknown keys are
// ignored; one by a known key that does not verify fails the note), and
// requires the log's signature. It returns the witnesses' cosignatures
// and, when they do not meet the quorum, the Result with an error wrapping
// ErrPolicyUnsatisfied that says who cosigned and what was needed. It does
// not parse the checkpoint body (seal.OpenCheckpoint does) and does not
// judge cosignature times.
func (p *Policy) Check(signedNote []byte, logVerifier note.Verifier) (*Result, error) {
	if logVerifier == nil {
		return nil, errors.New("cosign: check: no log verifier")
	}
	if _, clash := p.byKey[keyID{logVerifier.Name(), logVerifier.KeyHash()}]; clash {
		return nil, fmt.Errorf("cosign: check: the log key %s+%08x is also a witness key of policy %s", logVerifier.Name(), logVerifier.KeyHash(), p.file)
	}
	n, err := note.Open(signedNote, note.VerifierList(append([]note.Verifier{logVerifier}, p.Verifiers()...)...))
	if err != nil {
		return nil, fmt.Errorf("cosign: check: %w", err)
	}
	r := &Result{Text: n.Text}
	logSigned := false
	for _, s := range n.Sigs {
		if s.Name == logVerifier.Name() && s.Hash == logVerifier.KeyHash() {
			logSigned = true
			continue
		}
		i, ok := p.byKey[keyID{s.Name, s.Hash}]
		if !ok {
			return nil, fmt.Errorf("cosign: check: internal error: verified signature by unknown key %s+%08x", s.Name, s.Hash)
		}
		t, err := Timestamp(s)
		if err != nil {
			return nil, fmt.Errorf("cosign: check: witness %s: %w", p.witnesses[i].Name, err)
		}
		r.Cosigs = append(r.Cosigs, Cosig{Witness: p.witnesses[i].Name, KeyHash: s.Hash, Time: t})
	}
	if !logSigned {
		return nil, fmt.Errorf("cosign: check: no signature by the log key %s+%08x", logVerifier.Name(), logVerifier.KeyHash())
	}
	if !p.Satisfied(r.Cosigners()) {
		names := make([]string, len(r.Cosigs))
		for i, c := range r.Cosigs {
			names[i] = c.Witness
		}
		return r, fmt.Errorf("%w: cosigned by [%s]; policy %s needs quorum %s",
			ErrPolicyUnsatisfied, strings.Join(names, ", "), p.file, p.Need())
	}
	return r, nil
}
