package witness

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// FuzzParseResponse feeds arbitrary add-checkpoint responses (status,
// Content-Type, body) to the client's parser. Whatever it accepts is
// canonical: a 200's lines re-encode to the body byte for byte, a 409's
// size re-encodes to the body; every error is one of the typed ones.
func FuzzParseResponse(f *testing.F) {
	w1, w2 := cosigner(f, "witness.test/w1"), cosigner(f, "witness.test/w2")
	f.Add(200, "", sigLines(f, testCheckpointText, w1))
	f.Add(200, "text/plain", sigLines(f, testCheckpointText, w1, w2))
	f.Add(409, "text/x.tlog.size", []byte("20852014\n"))
	f.Add(409, "text/x.tlog.size; charset=utf-8", []byte("0\n"))
	f.Add(409, "text/plain", []byte("1\n"))
	f.Add(422, "text/plain; charset=utf-8", []byte("consistency proof failed\n"))
	f.Add(403, "", []byte("unknown log\n"))
	f.Add(500, "", []byte{0xff})
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		lines, err := parseResponse(status, contentType, body)
		var ce *ConflictError
		var re *RefusedError
		var se *StatusError
		switch {
		case err == nil:
			if status != 200 || !bytes.Equal(lines, body) {
				t.Fatalf("accepted status %d", status)
			}
			sigs, err := ParseSignatureLines(body)
			if err != nil {
				t.Fatal(err)
			}
			var again []byte
			for _, s := range sigs {
				again = append(again, "— "+s.Name+" "+s.Base64+"\n"...)
			}
			if !bytes.Equal(again, body) {
				t.Fatalf("lines not canonical: %q → %q", body, again)
			}
		case errors.As(err, &ce):
			if status != 409 || strconv.FormatUint(ce.Size, 10)+"\n" != string(body) {
				t.Fatalf("409 size %d from %q", ce.Size, body)
			}
		case errors.As(err, &re):
			if re.Status != status || len(re.Body) > maxErrorBody || !utf8.ValidString(re.Body) {
				t.Fatalf("refused %d for status %d", re.Status, status)
			}
		case errors.As(err, &se):
			if se.Status != status {
				t.Fatalf("status %d for %d", se.Status, status)
			}
		default:
			t.Fatalf("untyped error %v", err)
		}
	})
}

// FuzzAccept feeds arbitrary signature lines to Accept: it returns a line
// only if that line, appended to the checkpoint, verifies with the
// witness's key.
func FuzzAccept(f *testing.F) {
	logS, _ := noteLog(f, testOrigin)
	cp, err := note.Sign(&note.Note{Text: testCheckpointText}, logS)
	if err != nil {
		f.Fatal(err)
	}
	w1, w2 := cosigner(f, "witness.test/w1"), cosigner(f, "witness.test/w2")
	f.Add(sigLines(f, testCheckpointText, w1))
	f.Add(sigLines(f, testCheckpointText, w2, w1))
	f.Add(sigLines(f, testCheckpointText, w2))
	f.Add([]byte("— witness.test/w1 AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, lines []byte) {
		line, sig, err := Accept(cp, lines, w1.Verifier())
		if err != nil {
			return
		}
		if sig.Name != w1.Name() || sig.Hash != w1.KeyHash() || !bytes.Contains(lines, line) {
			t.Fatalf("accepted %q (%+v)", line, sig)
		}
		if _, err := note.Open(append(bytes.Clone(cp), line...), note.VerifierList(w1.Verifier())); err != nil {
			t.Fatalf("accepted line does not verify: %v", err)
		}
	})
}

// FuzzDecodeCosignedRecord feeds arbitrary stored records to the Reader's
// decoder: it accepts only a versioned, log-signed checkpoint of the
// size its key says.
func FuzzDecodeCosignedRecord(f *testing.F) {
	fx := newStoreFixture(f)
	r := &Reader{policy: fx.policy, logV: fx.logV}
	f.Add(uint64(5), append([]byte{1}, fx.cosignedNote(f, 5, fx.w1, fx.w2)...))
	f.Add(uint64(5), append([]byte{1}, fx.cosignedNote(f, 5, fx.w2)...))
	f.Add(uint64(0), []byte{1})
	f.Fuzz(func(t *testing.T, size uint64, rec []byte) {
		c, err := r.decode(size, rec)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if c.Size != size || rec[0] != cosignedRecordVersion || !bytes.Equal(c.Note, rec[1:]) {
			t.Fatalf("accepted %q as size %d", rec, c.Size)
		}
		if _, err := note.Open(c.Note, note.VerifierList(fx.logV)); err != nil {
			t.Fatalf("accepted a note the log did not sign: %v", err)
		}
	})
}
