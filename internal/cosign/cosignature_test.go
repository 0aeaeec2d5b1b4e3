package cosign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// testCheckpoint is a C2SP tlog-checkpoint body (the example of
// C2SP tlog-cosignature).
const testCheckpoint = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

// fixedNow is a fake clock for signers.
func fixedNow() time.Time { return time.Unix(1679315147, 0) }

// testEd25519 returns a deterministic Ed25519 key (seed = SHA-256(label)).
func testEd25519(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// testLog returns a note signer and verifier for the log (Ed25519 note
// key, type 0x01), deterministic.
func testLog(t testing.TB, name string) (note.Signer, note.Verifier, string) {
	t.Helper()
	k := testEd25519("log " + name)
	vkey, err := note.NewEd25519VerifierKey(name, k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	seed := k.Seed()
	// note's private key format: PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed).
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	skey := "PRIVATE+KEY+" + name + "+" + strings.Split(vkey, "+")[1] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, seed...))
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, vkey
}

// testWitness returns a cosignature/v1 signer named name with a fixed clock.
func testWitness(t testing.TB, name string) *Signer {
	t.Helper()
	s, err := NewSigner(name, testEd25519("witness "+name), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func vkeyOf(s *Signer) string { return s.Verifier().(interface{ String() string }).String() }

// TestTorchwoodSignsWeVerify: a cosignature made by torchwood (what
// litewitness runs) verifies with our verifier, and our Timestamp reads
// the same time as torchwood's.
func TestTorchwoodSignsWeVerify(t *testing.T) {
	key := testEd25519("torchwood")
	ts, err := torchwood.NewCosignatureSigner("witness.example/w1", key)
	if err != nil {
		t.Fatal(err)
	}
	vkey := ts.Verifier().String()
	ours, err := VerifierKey("witness.example/w1", key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if vkey != ours {
		t.Fatalf("vkey: torchwood %s, ours %s", vkey, ours)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != ts.Name() || v.KeyHash() != ts.KeyHash() {
		t.Fatalf("name/hash: ours %s %08x, torchwood %s %08x", v.Name(), v.KeyHash(), ts.Name(), ts.KeyHash())
	}
	msg, err := note.Sign(&note.Note{Text: testCheckpoint}, ts)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("our verifier refuses torchwood's cosignature: %v\n%s", err, msg)
	}
	got, err := Timestamp(n.Sigs[0])
	if err != nil {
		t.Fatal(err)
	}
	want, err := torchwood.CosignatureTimestamp(n.Sigs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.Unix() != want || got.Location() != time.UTC {
		t.Fatalf("Timestamp = %v, torchwood says %d", got, want)
	}
}

// TestWeSignTorchwoodVerifies: our Signer's cosignatures verify with
// torchwood's verifier (and tessera's parser uses the same format).
func TestWeSignTorchwoodVerifies(t *testing.T) {
	s := testWitness(t, "witness.example/w2")
	tv, err := torchwood.NewCosignatureVerifier(vkeyOf(s))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: testCheckpoint}, s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(tv))
	if err != nil {
		t.Fatalf("torchwood refuses our cosignature: %v\n%s", err, msg)
	}
	ts, err := torchwood.CosignatureTimestamp(n.Sigs[0])
	if err != nil || ts != fixedNow().Unix() {
		t.Fatalf("torchwood timestamp %d, %v; want %d", ts, err, fixedNow().Unix())
	}
	// The signed message is exactly "cosignature/v1\ntime T\n" ‖ body.
	sig, _ := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	m := "cosignature/v1\ntime 1679315147\n" + testCheckpoint
	if !ed25519.Verify(testEd25519("witness witness.example/w2").Public().(ed25519.PublicKey), []byte(m), sig[12:]) {
		t.Fatal("the signature is not over the cosignature/v1 message")
	}
	if binary.BigEndian.Uint64(sig[4:12]) != 1679315147 {
		t.Fatalf("timestamp field %x", sig[4:12])
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	pub := testEd25519("k").Public().(ed25519.PublicKey)
	good, err := VerifierKey("w.example/k", pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(good); err != nil {
		t.Fatalf("good vkey refused: %v", err)
	}
	parts := strings.SplitN(good, "+", 3)
	enc := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	noteVkey, _ := note.NewEd25519VerifierKey("w.example/k", pub) // type 0x01
	short := append([]byte{AlgCosignatureV1}, pub[:31]...)
	for name, vkey := range map[string]string{
		"wrong key hash":   parts[0] + "+00000000+" + parts[2],
		"other name":       "w.example/other+" + parts[1] + "+" + parts[2],
		"upper-case hash":  parts[0] + "+" + strings.ToUpper(parts[1]) + "+" + parts[2],
		"short hash":       parts[0] + "+" + parts[1][:7] + "+" + parts[2],
		"wrong type byte":  noteVkey,
		"type 0x06":        parts[0] + "+" + parts[1] + "+" + enc(append([]byte{0x06}, pub...)),
		"bad length":       parts[0] + "+" + keyHashHex("w.example/k", short) + "+" + enc(short),
		"no key":           parts[0] + "+" + parts[1] + "+",
		"extra padding":    parts[0] + "+" + parts[1] + "+" + parts[2] + "==",
		"space in name":    "w example+" + parts[1] + "+" + parts[2],
		"empty":            "",
		"two fields":       parts[0] + "+" + parts[1],
		"non-base64 key":   parts[0] + "+" + parts[1] + "+!!!!",
		"trailing garbage": good + "+x",
	} {
		if v, err := NewVerifier(vkey); err == nil {
			t.Errorf("%s: NewVerifier(%q) = %v, want an error", name, vkey, v)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", name, err)
		}
	}
}

// keyHashHex computes a note key hash over arbitrary key bytes (type byte
// included), so a vkey with a bad key length still has a matching hash.
func keyHashHex(name string, key []byte) string {
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	return hex.EncodeToString(h[:4])
}

func TestVerifyRefuses(t *testing.T) {
	s := testWitness(t, "w.example/a")
	v := s.Verifier()
	sig, err := s.Sign([]byte(testCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verify([]byte(testCheckpoint), sig) {
		t.Fatal("a good signature does not verify")
	}
	tampered := strings.Replace(testCheckpoint, "20852163", "20852164", 1)
	if v.Verify([]byte(tampered), sig) {
		t.Error("tampered body verifies")
	}
	if v.Verify([]byte(testCheckpoint), sig[:len(sig)-1]) {
		t.Error("short signature verifies")
	}
	if v.Verify([]byte(testCheckpoint), append(bytes.Clone(sig), 0)) {
		t.Error("long signature verifies")
	}
	// Another timestamp: the signed message changes.
	other := bytes.Clone(sig)
	binary.BigEndian.PutUint64(other, 1679315148)
	if v.Verify([]byte(testCheckpoint), other) {
		t.Error("signature with another timestamp verifies")
	}
	// A timestamp above 2^63−1 is refused even when correctly signed.
	big := uint64(math.MaxInt64) + 1
	bad := binary.BigEndian.AppendUint64(nil, big)
	bad = append(bad, ed25519.Sign(testEd25519("witness w.example/a"), appendMessage(nil, big, []byte(testCheckpoint)))...)
	if v.Verify([]byte(testCheckpoint), bad) {
		t.Error("timestamp > 2^63-1 verifies")
	}
	// A signature by another key with the same name.
	s2, _ := NewSigner("w.example/a", testEd25519("other"), fixedNow)
	sig2, _ := s2.Sign([]byte(testCheckpoint))
	if v.Verify([]byte(testCheckpoint), sig2) {
		t.Error("another key's signature verifies")
	}

	// In a note: a tampered body fails with InvalidSignatureError; a
	// signature line whose key ID is not ours is ignored (unverified).
	msg, _ := note.Sign(&note.Note{Text: testCheckpoint}, s)
	tmsg := bytes.Replace(msg, []byte("20852163"), []byte("20852164"), 1)
	var ise *note.InvalidSignatureError
	if _, err := note.Open(tmsg, note.VerifierList(v)); !errors.As(err, &ise) {
		t.Errorf("tampered note: %v, want *note.InvalidSignatureError", err)
	}
	msg2, _ := note.Sign(&note.Note{Text: testCheckpoint}, s2)
	var une *note.UnverifiedNoteError
	if _, err := note.Open(msg2, note.VerifierList(v)); !errors.As(err, &une) {
		t.Errorf("note by another key: %v, want *note.UnverifiedNoteError", err)
	}
}

func TestTimestampRefuses(t *testing.T) {
	s := testWitness(t, "w.example/a")
	msg, _ := note.Sign(&note.Note{Text: testCheckpoint}, s)
	n, err := note.Open(msg, note.VerifierList(s.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	good := n.Sigs[0]
	if tm, err := Timestamp(good); err != nil || !tm.Equal(fixedNow()) {
		t.Fatalf("Timestamp = %v, %v", tm, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(good.Base64)
	enc := base64.StdEncoding.EncodeToString
	big := bytes.Clone(raw)
	binary.BigEndian.PutUint64(big[4:], math.MaxUint64)
	for name, sig := range map[string]note.Signature{
		"wrong hash":   {Name: good.Name, Hash: good.Hash + 1, Base64: good.Base64},
		"short":        {Name: good.Name, Hash: good.Hash, Base64: enc(raw[:len(raw)-1])},
		"long":         {Name: good.Name, Hash: good.Hash, Base64: enc(append(bytes.Clone(raw), 0))},
		"not base64":   {Name: good.Name, Hash: good.Hash, Base64: "%%%"},
		"> 2^63-1":     {Name: good.Name, Hash: good.Hash, Base64: enc(big)},
		"note Ed25519": {Name: good.Name, Hash: good.Hash, Base64: enc(raw[:4+64])},
	} {
		if tm, err := Timestamp(sig); err == nil {
			t.Errorf("%s: Timestamp = %v, want an error", name, tm)
		}
	}
}

func TestNewSignerRefuses(t *testing.T) {
	if _, err := NewSigner("bad name", testEd25519("x"), fixedNow); err == nil {
		t.Error("name with a space accepted")
	}
	if _, err := NewSigner("a+b", testEd25519("x"), fixedNow); err == nil {
		t.Error("name with '+' accepted")
	}
	if _, err := NewSigner("ok", testEd25519("x")[:10], fixedNow); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewSigner("ok", testEd25519("x"), nil); err == nil {
		t.Error("nil clock accepted")
	}
	s, _ := NewSigner("ok", testEd25519("x"), func() time.Time { return time.Unix(-1, 0) })
	if _, err := s.Sign([]byte(testCheckpoint)); err == nil {
		t.Error("signed a time before the epoch")
	}
}
