package cosign

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// policyFixture is a log key and three witnesses, with a policy text
// builder.
type policyFixture struct {
	logSigner   note.Signer
	logVerifier note.Verifier
	logVkey     string
	w           map[string]*Signer
}

func newPolicyFixture(t testing.TB) *policyFixture {
	t.Helper()
	f := &policyFixture{w: map[string]*Signer{}}
	f.logSigner, f.logVerifier, f.logVkey = testLog(t, "fixtap.test/log")
	for _, n := range []string{"w1", "w2", "w3"} {
		f.w[n] = testWitness(t, "witness.test/"+n)
	}
	return f
}

// policy returns a policy text with the three witnesses and then rest.
func (f *policyFixture) policy(rest string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "log %s https://log.test/\n", f.logVkey)
	for _, n := range []string{"w1", "w2", "w3"} {
		fmt.Fprintf(&b, "witness %s %s http://127.0.0.1:7380/%s\n", n, vkeyOf(f.w[n]), n)
	}
	return b.String() + rest
}

// note returns the checkpoint signed by the log and cosigned by the named
// witnesses, in that order.
func (f *policyFixture) note(t testing.TB, cosigners ...string) []byte {
	t.Helper()
	signers := []note.Signer{f.logSigner}
	for _, n := range cosigners {
		signers = append(signers, f.w[n])
	}
	msg, err := note.Sign(&note.Note{Text: testCheckpoint}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func mustParse(t testing.TB, text string) *Policy {
	t.Helper()
	p, err := ParsePolicy("test.policy", []byte(text))
	if err != nil {
		t.Fatalf("ParsePolicy: %v\n%s", err, text)
	}
	return p
}

func TestParsePolicy(t *testing.T) {
	f := newPolicyFixture(t)
	text := f.policy("# a comment\n\n  group g 2 w1 w2 w3   # trailing comment\r\ngroup top any g w3\nquorum top\n")
	p := mustParse(t, text)
	ws := p.Witnesses()
	if len(ws) != 3 || ws[0].Name != "w1" || ws[2].URL != "http://127.0.0.1:7380/w3" || ws[1].VerifierKey != vkeyOf(f.w["w2"]) {
		t.Fatalf("Witnesses() = %+v", ws)
	}
	if ws[0].Verifier.Name() != "witness.test/w1" || ws[0].Verifier.KeyHash() != f.w["w1"].KeyHash() {
		t.Fatalf("witness verifier %s %08x", ws[0].Verifier.Name(), ws[0].Verifier.KeyHash())
	}
	if l := p.Logs(); len(l) != 1 || l[0].VerifierKey != f.logVkey || l[0].URL != "https://log.test/" {
		t.Fatalf("Logs() = %+v", l)
	}
	if p.Quorum() != "top" || p.File() != "test.policy" {
		t.Fatalf("Quorum %q File %q", p.Quorum(), p.File())
	}
	if got, want := p.Need(), "top: 1 of (g[2 of (w1, w2, w3)], w3)"; got != want {
		t.Errorf("Need() = %q, want %q", got, want)
	}
	// The canonical form parses to itself.
	again := mustParse(t, p.String())
	if again.String() != p.String() || again.Digest() != p.Digest() {
		t.Errorf("String does not round-trip:\n%s\n---\n%s", p.String(), again.String())
	}
	// Witnesses() is a copy.
	ws[0].Name = "changed"
	if p.Witnesses()[0].Name != "w1" {
		t.Error("Witnesses() aliases the policy")
	}
	// A witness without URL, and quorum none.
	p = mustParse(t, "witness w "+vkeyOf(f.w["w1"])+"\nquorum none\n")
	if p.Witnesses()[0].URL != "" || p.Quorum() != "none" || !p.Satisfied(nil) {
		t.Errorf("no-URL witness / quorum none: %+v %q", p.Witnesses(), p.Quorum())
	}
	// A single witness can be the quorum.
	p = mustParse(t, f.policy("quorum w2\n"))
	if p.Satisfied(map[string]bool{"w1": true}) || !p.Satisfied(map[string]bool{"w2": true}) {
		t.Error("quorum of a single witness")
	}
}

func TestParsePolicyRefuses(t *testing.T) {
	f := newPolicyFixture(t)
	w1, w2 := vkeyOf(f.w["w1"]), vkeyOf(f.w["w2"])
	head := "witness w1 " + w1 + "\nwitness w2 " + w2 + "\n" // lines 1, 2
	for _, c := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"no quorum", head, 0, "no quorum line"},
		{"unknown keyword", head + "witnes w3 " + w1 + "\nquorum w1\n", 3, "unknown keyword"},
		{"duplicate witness name", head + "witness w1 " + vkeyOf(f.w["w3"]) + "\nquorum w1\n", 3, "already defined"},
		{"group named like witness", head + "group w2 any w1\nquorum w2\n", 3, "already defined"},
		{"duplicate key", head + "witness w3 " + w1 + "\nquorum w1\n", 3, "public key of witness w1"},
		{"forward reference", head + "group g any w1 w3\nwitness w3 " + vkeyOf(f.w["w3"]) + "\nquorum g\n", 3, "not defined above"},
		{"quorum forward", "quorum w1\n" + head, 1, "not defined above"},
		{"after quorum", head + "quorum w1\nwitness w3 " + vkeyOf(f.w["w3"]) + "\n", 4, "after the quorum"},
		{"two quorums", head + "quorum w1\nquorum w2\n", 4, "after the quorum"},
		{"threshold > members", head + "group g 3 w1 w2\nquorum g\n", 3, "threshold 3 with 2 members"},
		{"threshold 0", head + "group g 0 w1 w2\nquorum g\n", 3, "threshold 0"},
		{"threshold leading zero", head + "group g 01 w1 w2\nquorum g\n", 3, "want a decimal"},
		{"threshold negative", head + "group g -1 w1 w2\nquorum g\n", 3, "want a decimal"},
		{"threshold word", head + "group g some w1 w2\nquorum g\n", 3, "want a decimal"},
		{"group without members", head + "group g any\nquorum g\n", 3, "want: group"},
		{"member twice", head + "group g any w1 w1\nquorum g\n", 3, "listed twice"},
		{"keyword name", "witness all " + w1 + "\nquorum all\n", 1, "keyword"},
		{"wrong key type", "witness w " + f.logVkey + "\nquorum w\n", 1, "want 0x04"},
		{"bad vkey", "witness w nonsense\nquorum w\n", 1, "witness w"},
		{"witness extra field", "witness w " + w1 + " http://a/ extra\nquorum w\n", 1, "want: witness"},
		{"witness missing key", "witness w\nquorum w\n", 1, "want: witness"},
		{"bad URL scheme", "witness w " + w1 + " ftp://a/\nquorum w\n", 1, "URL"},
		{"URL with query", "witness w " + w1 + " http://a/?x=1\nquorum w\n", 1, "URL"},
		{"relative URL", "witness w " + w1 + " /add\nquorum w\n", 1, "URL"},
		{"log bad key", "log " + w1 + "\n" + head + "quorum w1\n", 1, "log key"},
		{"quorum unknown", head + "quorum nobody\n", 3, "not defined above"},
		{"quorum two names", head + "quorum w1 w2\n", 3, "want: quorum"},
		{"control char", head + "quorum w1\x00\n", 3, "control character"},
		{"not UTF-8", head + "quorum w1\n# \xff\n", 0, "not UTF-8"},
		{"too big", head + strings.Repeat("#\n", maxPolicy) + "quorum w1\n", 0, "more than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePolicy("bad.policy", []byte(c.text))
			if err == nil {
				t.Fatalf("accepted:\n%s\n→ %s", c.text, p)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *PolicyError", err, err)
			}
			if pe.File != "bad.policy" || pe.Line != c.line || !strings.Contains(pe.Msg, c.msg) {
				t.Errorf("got %v (line %d), want line %d with %q", err, pe.Line, c.line, c.msg)
			}
			want := fmt.Sprintf("bad.policy:%d: ", c.line)
			if c.line == 0 {
				want = "bad.policy: "
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not name %q", err, want)
			}
		})
	}
}

func TestSatisfied(t *testing.T) {
	f := newPolicyFixture(t)
	for _, c := range []struct {
		rules string
		sat   []string // subsets (letters of w1..w3 as "12") that satisfy
	}{
		{"group g all w1 w2\nquorum g\n", []string{"12", "123"}},
		{"group g any w1 w2\nquorum g\n", []string{"1", "2", "12", "13", "23", "123"}},
		{"group g 2 w1 w2 w3\nquorum g\n", []string{"12", "13", "23", "123"}},
		{"group a any w1 w2\ngroup b all a w3\nquorum b\n", []string{"13", "23", "123"}},
		// A shared member counts for each member it satisfies: w1 alone
		// meets a and itself, so 2 of b (tessera agrees).
		{"group a any w1 w2\ngroup b 2 a w1 w3\nquorum b\n", []string{"1", "12", "13", "23", "123"}},
		{"quorum none\n", []string{"", "1", "2", "3", "12", "13", "23", "123"}},
	} {
		p := mustParse(t, f.policy(c.rules))
		for _, subset := range []string{"", "1", "2", "3", "12", "13", "23", "123"} {
			m := map[string]bool{"stranger": true}
			for _, d := range subset {
				m["w"+string(d)] = true
			}
			want := false
			for _, s := range c.sat {
				want = want || s == subset
			}
			if got := p.Satisfied(m); got != want {
				t.Errorf("%q with {%s}: Satisfied = %v, want %v", c.rules, subset, got, want)
			}
			// Check on a real cosigned note agrees with Satisfied, and
			// with tessera's reading of the same policy.
			var names []string
			for _, d := range subset {
				names = append(names, "w"+string(d))
			}
			msg := f.note(t, names...)
			r, err := p.Check(msg, f.logVerifier)
			if want != (err == nil) {
				t.Errorf("%q with {%s}: Check error %v, want satisfied=%v", c.rules, subset, err, want)
			}
			if !want && !errors.Is(err, ErrPolicyUnsatisfied) {
				t.Errorf("%q with {%s}: error %v does not wrap ErrPolicyUnsatisfied", c.rules, subset, err)
			}
			if r == nil || len(r.Cosigs) != len(names) {
				t.Errorf("%q with {%s}: Result %+v", c.rules, subset, r)
			}
			if tw := tesseraSatisfied(t, f.policy(c.rules), msg); tw != want {
				t.Errorf("%q with {%s}: tessera says %v, we say %v", c.rules, subset, tw, want)
			}
		}
	}
}

// tesseraSatisfied asks tessera's policy parser whether msg meets policy.
// tessera wants a URL on every witness line, which the fixture gives.
func tesseraSatisfied(t testing.TB, policy string, msg []byte) bool {
	t.Helper()
	g, err := tessera.NewWitnessGroupFromPolicy([]byte(policy))
	if err != nil {
		t.Fatalf("tessera refuses the policy: %v\n%s", err, policy)
	}
	return g.Satisfied(msg)
}

func TestCheck(t *testing.T) {
	f := newPolicyFixture(t)
	p := mustParse(t, f.policy("group g 2 w1 w2 w3\nquorum g\n"))
	stranger := testWitness(t, "stranger.test/x")

	msg, err := note.Sign(&note.Note{Text: testCheckpoint}, f.logSigner, f.w["w3"], stranger, f.w["w1"])
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Check(msg, f.logVerifier)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if r.Text != testCheckpoint || len(r.Cosigs) != 2 || r.Cosigs[0].Witness != "w3" || r.Cosigs[1].Witness != "w1" ||
		r.Cosigs[0].KeyHash != f.w["w3"].KeyHash() || !r.Cosigs[0].Time.Equal(fixedNow()) {
		t.Fatalf("Result = %+v", r)
	}

	// One cosignature: unsatisfied, and the message says who and what.
	_, err = p.Check(f.note(t, "w2"), f.logVerifier)
	if !errors.Is(err, ErrPolicyUnsatisfied) || !strings.Contains(err.Error(), "cosigned by [w2]") ||
		!strings.Contains(err.Error(), "g: 2 of (w1, w2, w3)") {
		t.Errorf("one cosignature: %v", err)
	}

	// A tampered cosignature (known key, bad signature) fails the note.
	good := f.note(t, "w1", "w2")
	lines := strings.Split(strings.TrimSuffix(string(good), "\n"), "\n")
	last := lines[len(lines)-1]
	sig := []byte(last)
	sig[len(sig)-3] ^= 1 // flip a base64 character
	if sig[len(sig)-3] == '=' || string(sig) == last {
		t.Fatal("bad tamper")
	}
	lines[len(lines)-1] = string(sig)
	tampered := strings.Join(lines, "\n") + "\n"
	var ise *note.InvalidSignatureError
	if _, err := p.Check([]byte(tampered), f.logVerifier); !errors.As(err, &ise) {
		t.Errorf("tampered cosignature: %v, want *note.InvalidSignatureError", err)
	}

	// Cosignatures without the log's signature.
	noLog, _ := note.Sign(&note.Note{Text: testCheckpoint}, f.w["w1"], f.w["w2"])
	if _, err := p.Check(noLog, f.logVerifier); err == nil || !strings.Contains(err.Error(), "no signature by the log key") {
		t.Errorf("no log signature: %v", err)
	}
	// Another log's key.
	_, otherLog, _ := testLog(t, "other.test/log")
	if _, err := p.Check(good, otherLog); err == nil {
		t.Error("accepted with another log's key")
	}
	// The body changed after signing.
	if _, err := p.Check([]byte(strings.Replace(string(good), "20852163", "20852164", 1)), f.logVerifier); err == nil {
		t.Error("accepted a changed body")
	}
	if _, err := p.Check(good, nil); err == nil {
		t.Error("accepted a nil log verifier")
	}
	// A log key that is also a witness key is refused.
	if _, err := p.Check(good, f.w["w1"].Verifier()); err == nil {
		t.Error("accepted a witness key as the log key")
	}
}
