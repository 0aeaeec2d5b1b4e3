package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/cosign"
)

// testCheckpointText is a C2SP tlog-checkpoint body.
const testCheckpointText = "fixtap.test/witness\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

func fixedNow() time.Time { return time.Unix(1700000000, 0) }

func seededKey(label string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(s[:])
}

// noteLog returns a note signer and verifier for a log key named name.
func noteLog(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte(name), 64)), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func cosigner(t testing.TB, name string) *cosign.Signer {
	t.Helper()
	s, err := cosign.NewSigner(name, seededKey(name), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sigLines returns the signature lines signers make on text.
func sigLines(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return msg[len(text)+1:]
}

func TestAppendRequest(t *testing.T) {
	logS, _ := noteLog(t, "fixtap.test/witness")
	cp, _ := note.Sign(&note.Note{Text: testCheckpointText}, logS)
	h1, h2 := tlog.Hash{1}, tlog.Hash{2}
	got, err := AppendRequest(nil, 20852014, tlog.TreeProof{h1, h2}, cp)
	if err != nil {
		t.Fatal(err)
	}
	want := "old 20852014\n" + h1.String() + "\n" + h2.String() + "\n\n" + string(cp)
	if string(got) != want {
		t.Fatalf("request\n%q\nwant\n%q", got, want)
	}
	if got, _ := AppendRequest(nil, 0, nil, cp); string(got) != "old 0\n\n"+string(cp) {
		t.Fatalf("old 0: %q", got)
	}
	if _, err := AppendRequest(nil, 0, tlog.TreeProof{h1}, cp); err == nil {
		t.Error("a proof from old size 0 accepted")
	}
	if _, err := AppendRequest(nil, 5, make(tlog.TreeProof, 64), cp); err == nil {
		t.Error("64 proof lines accepted")
	}
	if _, err := AppendRequest(nil, 5, make(tlog.TreeProof, 63), cp); err != nil {
		t.Errorf("63 proof lines refused: %v", err)
	}
	if _, err := AppendRequest(nil, 5, nil, cp[:len(cp)-1]); err == nil {
		t.Error("a note without its final newline accepted")
	}
}

func TestParseResponse(t *testing.T) {
	w := cosigner(t, "witness.test/w1")
	lines := sigLines(t, testCheckpointText, w)
	got, err := parseResponse(200, "", lines)
	if err != nil || !bytes.Equal(got, lines) {
		t.Fatalf("200: %q, %v", got, err)
	}
	var ce *ConflictError
	if _, err := parseResponse(409, "text/x.tlog.size", []byte("42\n")); !errors.As(err, &ce) || ce.Size != 42 {
		t.Errorf("409: %v", err)
	}
	if _, err := parseResponse(409, "text/x.tlog.size; charset=utf-8", []byte("0\n")); !errors.As(err, &ce) || ce.Size != 0 {
		t.Errorf("409 with parameters: %v", err)
	}
	var se *StatusError
	for name, c := range map[string]struct {
		ct, body string
	}{
		"409 wrong type":   {"text/plain", "42\n"},
		"409 no newline":   {"text/x.tlog.size", "42"},
		"409 leading zero": {"text/x.tlog.size", "042\n"},
		"409 sign":         {"text/x.tlog.size", "+42\n"},
		"409 space":        {"text/x.tlog.size", "42 \n"},
		"409 two lines":    {"text/x.tlog.size", "42\n\n"},
		"409 > int64":      {"text/x.tlog.size", "9223372036854775808\n"},
		"409 empty":        {"text/x.tlog.size", ""},
	} {
		if _, err := parseResponse(409, c.ct, []byte(c.body)); !errors.As(err, &se) || se.Status != 409 {
			t.Errorf("%s: %v, want a *StatusError", name, err)
		}
	}
	var re *RefusedError
	for _, st := range []int{422, 403, 404} {
		if _, err := parseResponse(st, "text/plain", []byte("consistency proof failed\n")); !errors.As(err, &re) || re.Status != st || re.Body != "consistency proof failed\n" {
			t.Errorf("%d: %v, want a *RefusedError", st, err)
		}
	}
	for _, st := range []int{400, 500, 502, 503, 201, 301} {
		if _, err := parseResponse(st, "", []byte("x")); !errors.As(err, &se) || se.Status != st {
			t.Errorf("%d: %v, want a *StatusError", st, err)
		}
	}
	// A long refusal keeps only the start as evidence.
	if _, err := parseResponse(422, "", bytes.Repeat([]byte("a"), 5000)); !errors.As(err, &re) || len(re.Body) != maxErrorBody {
		t.Errorf("long body kept %d bytes", len(re.Body))
	}
}

func TestParseSignatureLines(t *testing.T) {
	w1, w2 := cosigner(t, "witness.test/w1"), cosigner(t, "witness.test/w2")
	lines := sigLines(t, testCheckpointText, w1, w2)
	sigs, err := ParseSignatureLines(lines)
	if err != nil || len(sigs) != 2 || sigs[0].Name != "witness.test/w1" || sigs[0].Hash != w1.KeyHash() || sigs[1].Hash != w2.KeyHash() {
		t.Fatalf("ParseSignatureLines = %+v, %v", sigs, err)
	}
	good := strings.TrimSuffix(string(lines), "\n")
	first := strings.SplitN(good, "\n", 2)[0]
	for name, body := range map[string]string{
		"empty":           "",
		"no newline":      first,
		"blank line":      first + "\n\n",
		"CRLF":            first + "\r\n",
		"hyphen":          "- " + strings.TrimPrefix(first, "— ") + "\n",
		"no space":        "—" + strings.TrimPrefix(first, "— ") + "\n",
		"no signature":    "— witness.test/w1\n",
		"empty signature": "— witness.test/w1 \n",
		"bad base64":      "— witness.test/w1 !!!!\n",
		"short":           "— witness.test/w1 AAAA\n",
		"plus in name":    "— a+b " + strings.Fields(first)[2] + "\n",
		"extra field":     first + " x\n",
		"too many":        strings.Repeat(first+"\n", maxSigLines+1),
	} {
		if sigs, err := ParseSignatureLines([]byte(body)); err == nil {
			t.Errorf("%s: accepted %q → %+v", name, body, sigs)
		}
	}
	if _, err := ParseSignatureLines([]byte(strings.Repeat(first+"\n", maxSigLines))); err != nil {
		t.Errorf("%d lines refused: %v", maxSigLines, err)
	}
}

func TestAccept(t *testing.T) {
	logS, _ := noteLog(t, "fixtap.test/witness")
	cp, _ := note.Sign(&note.Note{Text: testCheckpointText}, logS)
	w1, stranger := cosigner(t, "witness.test/w1"), cosigner(t, "witness.test/stranger")

	// The witness's line among others is picked; the others are ignored.
	lines := sigLines(t, testCheckpointText, stranger, w1)
	line, sig, err := Accept(cp, lines, w1.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if sig.Hash != w1.KeyHash() || !strings.HasPrefix(string(line), "— witness.test/w1 ") || !bytes.Contains(lines, line) {
		t.Fatalf("Accept = %q, %+v", line, sig)
	}
	// Appended to the checkpoint, it verifies with the log and the witness.
	if _, err := note.Open(append(bytes.Clone(cp), line...), note.VerifierList(w1.Verifier())); err != nil {
		t.Fatalf("cosigned note: %v", err)
	}
	// No line by the witness.
	if _, _, err := Accept(cp, sigLines(t, testCheckpointText, stranger), w1.Verifier()); err == nil || !strings.Contains(err.Error(), "no cosignature") {
		t.Errorf("no line by the witness: %v", err)
	}
	// The witness's line over another checkpoint (a fork, or a mix-up).
	other := strings.Replace(testCheckpointText, "20852163", "20852164", 1)
	var ise *note.InvalidSignatureError
	if _, _, err := Accept(cp, sigLines(t, other, w1), w1.Verifier()); !errors.As(err, &ise) {
		t.Errorf("line over another checkpoint: %v", err)
	}
	// A note signature by the same name but of the log's kind is unknown.
	if _, _, err := Accept(cp, []byte("junk\n"), w1.Verifier()); err == nil {
		t.Error("junk accepted")
	}
}

// The RefusedError and ConflictError messages carry their evidence.
func TestErrorMessages(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&ConflictError{Size: 7}, "size is 7"},
		{&RefusedError{Status: 422, Body: "consistency"}, "422 Unprocessable Entity"},
		{&StatusError{Status: 500, Body: "boom"}, "500 Internal Server Error"},
		{&AheadError{Witness: "w1", WitnessSize: 50, TreeSize: 10}, "w1 has cosigned a tree of 50 leaves, ours has 10"},
	} {
		if !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%q lacks %q", c.err, c.want)
		}
	}
	if http.StatusText(422) == "" {
		t.Fatal("no status text")
	}
}
