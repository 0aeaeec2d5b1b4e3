package cosign

import (
	"errors"
	"testing"
)

// FuzzParsePolicy feeds arbitrary bytes to ParsePolicy. A refusal must be
// a *PolicyError; an accepted policy must round-trip through its canonical
// form, be met when every witness cosigns, and — unless its quorum is
// none — not be met when none does (every threshold is at least 1).
func FuzzParsePolicy(f *testing.F) {
	fx := newPolicyFixture(f)
	for _, rules := range []string{
		"group g 2 w1 w2 w3\nquorum g\n",
		"group a any w1 w2\ngroup b all a w3 # c\nquorum b\n",
		"quorum none\n",
		"quorum w1\r\n",
		"group g 4 w1 w2 w3\nquorum g\n",
	} {
		f.Add([]byte(fx.policy(rules)))
	}
	f.Add([]byte("witness w " + vkeyOf(fx.w["w1"]) + "\nquorum w\n"))
	f.Add([]byte("log " + fx.logVkey + "\nquorum none\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := ParsePolicy("fuzz.policy", text)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *PolicyError", err, err)
			}
			return
		}
		canon := p.String()
		q, err := ParsePolicy("canonical", []byte(canon))
		if err != nil {
			t.Fatalf("canonical form refused: %v\n%s", err, canon)
		}
		if q.String() != canon {
			t.Fatalf("canonical form not stable:\n%s\n---\n%s", canon, q.String())
		}
		all := map[string]bool{}
		for _, w := range p.Witnesses() {
			all[w.Name] = true
			if w.Verifier == nil || w.Verifier.Name() == "" {
				t.Fatalf("witness %s without verifier", w.Name)
			}
		}
		if !p.Satisfied(all) {
			t.Fatalf("not met with every witness:\n%s", canon)
		}
		if p.Quorum() != "none" && p.Satisfied(nil) {
			t.Fatalf("met with no witness:\n%s", canon)
		}
		_ = p.Need()
	})
}
