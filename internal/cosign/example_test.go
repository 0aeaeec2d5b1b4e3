package cosign_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/cosign"
)

// A policy of two witnesses, both required, checked against a checkpoint
// the log signed and one witness cosigned.
func ExamplePolicy_Check() {
	seed := func(s string) ed25519.PrivateKey { h := sha256.Sum256([]byte(s)); return ed25519.NewKeyFromSeed(h[:]) }
	now := func() time.Time { return time.Unix(1700000000, 0) }

	logSkey, logVkey, _ := note.GenerateKey(nil, "fixtap.example/tap-1") // nil: crypto/rand
	logSigner, _ := note.NewSigner(logSkey)
	logVerifier, _ := note.NewVerifier(logVkey)
	w1, _ := cosign.NewSigner("witness.example/w1", seed("w1"), now)
	w2, _ := cosign.NewSigner("witness.example/w2", seed("w2"), now)
	vkey := func(s *cosign.Signer) string { return s.Verifier().(fmt.Stringer).String() }

	policy, err := cosign.ParsePolicy("witness.policy", []byte(
		"witness w1 "+vkey(w1)+" https://w1.example/\n"+
			"witness w2 "+vkey(w2)+" https://w2.example/\n"+
			"group both all w1 w2\n"+
			"quorum both\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	checkpoint := "fixtap.example/tap-1\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	msg, _ := note.Sign(&note.Note{Text: checkpoint}, logSigner, w1)
	r, err := policy.Check(msg, logVerifier)
	fmt.Println(errors.Is(err, cosign.ErrPolicyUnsatisfied))
	fmt.Println(err)
	fmt.Println(r.Cosigs[0].Witness, r.Cosigs[0].Time)

	msg, _ = note.Sign(&note.Note{Text: checkpoint}, logSigner, w1, w2)
	r, err = policy.Check(msg, logVerifier)
	fmt.Println(err, len(r.Cosigs))
	// Output:
	// true
	// cosign: witness policy not satisfied: cosigned by [w1]; policy witness.policy needs quorum both: 2 of (w1, w2)
	// w1 2023-11-14 22:13:20 +0000 UTC
	// <nil> 2
}
