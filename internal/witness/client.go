package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Limits of the add-checkpoint exchange.
const (
	// maxProofLines is the most consistency proof lines a client may send
	// (C2SP tlog-witness, "add-checkpoint").
	maxProofLines = 63
	// maxResponse caps a response body read: signature lines are ~120
	// bytes (Ed25519) or ~3.3 KB (ML-DSA-44) each.
	maxResponse = 64 << 10
	// maxSigLines caps the signature lines accepted in one 200 response.
	maxSigLines = 16
	// maxErrorBody caps the response text an error keeps as evidence.
	maxErrorBody = 512
	// maxNote caps the checkpoint note sent.
	maxNote = 16 << 10
)

// Client talks to one witness over C2SP tlog-witness
// (https://c2sp.org/tlog-witness).
type Client struct {
	// URL is the witness's submission prefix: requests go to
	// URL + "/add-checkpoint".
	URL string
	// HTTP is the client used; nil means http.DefaultClient. Deadlines
	// come from the context.
	HTTP *http.Client
}

// ConflictError is a 409 Conflict from add-checkpoint: the old size sent
// is not the size of the latest checkpoint the witness cosigned for the
// log, which is Size (C2SP tlog-witness: the body is that size in decimal
// and a newline, Content-Type text/x.tlog.size). The caller resends from
// Size with a consistency proof from Size.
type ConflictError struct {
	Size uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness: 409 conflict: the witness's latest cosigned size is %d", e.Size)
}

// RefusedError is an answer that retrying cannot change, and an alarm:
//
//   - 422 Unprocessable Entity: the consistency proof does not verify, or
//     a checkpoint of the size the witness holds has another root — the
//     witness has seen a different history of this log (a fork), or ours
//     diverged;
//   - 403 Forbidden: no signature by a log key the witness trusts for the
//     origin verifies (it does not know our key, or a signature is bad);
//   - 404 Not Found: the witness does not know the origin
//     (misconfiguration).
//
// Body is the start of the response text, as evidence.
type RefusedError struct {
	Status int
	Body   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("witness: refused: %d %s: %q", e.Status, http.StatusText(e.Status), e.Body)
}

// StatusError is any other unexpected response (400, 5xx, a 409 without a
// valid size body, …): transient as far as the caller can tell.
type StatusError struct {
	Status int
	Body   string
	Err    error // what was wrong with the response, if its status was one we expected
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("witness: %d %s: %v (body %q)", e.Status, http.StatusText(e.Status), e.Err, e.Body)
	}
	return fmt.Sprintf("witness: %d %s: %q", e.Status, http.StatusText(e.Status), e.Body)
}

func (e *StatusError) Unwrap() error { return e.Err }

// AppendRequest appends an add-checkpoint request body (C2SP tlog-witness,
// "add-checkpoint"): the old size line "old <N>\n" (ASCII decimal, no
// leading zeroes), one base64 line per consistency proof hash (at most
// 63), an empty line, then the signed checkpoint note.
func AppendRequest(dst []byte, oldSize uint64, proof tlog.TreeProof, signedNote []byte) ([]byte, error) {
	if len(proof) > maxProofLines {
		return nil, fmt.Errorf("witness: request: %d proof lines, at most %d", len(proof), maxProofLines)
	}
	if oldSize == 0 && len(proof) != 0 {
		return nil, errors.New("witness: request: a proof from old size 0 must be empty")
	}
	if len(signedNote) == 0 || len(signedNote) > maxNote || signedNote[len(signedNote)-1] != '\n' {
		return nil, fmt.Errorf("witness: request: note of %d bytes: want 1–%d bytes ending in a newline", len(signedNote), maxNote)
	}
	dst = append(dst, "old "...)
	dst = strconv.AppendUint(dst, oldSize, 10)
	dst = append(dst, '\n')
	for _, h := range proof {
		dst = base64.StdEncoding.AppendEncode(dst, h[:])
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	return append(dst, signedNote...), nil
}

// AddCheckpoint submits signedNote with a consistency proof from oldSize
// (C2SP tlog-witness, "add-checkpoint") and returns the witness's
// signature lines, parsed strictly (ParseSignatureLines) but not verified:
// see Accept. Errors: *ConflictError (409), *RefusedError (422, 403, 404),
// *StatusError (any other status), or a transport error (timeouts
// included) wrapped as is.
func (c *Client) AddCheckpoint(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signedNote []byte) ([]byte, error) {
	body, err := AppendRequest(nil, oldSize, proof, signedNote)
	if err != nil {
		return nil, err
	}
	u, err := url.JoinPath(c.URL, "add-checkpoint")
	if err != nil {
		return nil, fmt.Errorf("witness: URL %q: %w", c.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness: add-checkpoint %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("witness: add-checkpoint %s: read response: %w", u, err)
	}
	if len(data) > maxResponse {
		return nil, &StatusError{Status: resp.StatusCode, Body: evidence(data), Err: fmt.Errorf("response longer than %d bytes", maxResponse)}
	}
	return parseResponse(resp.StatusCode, resp.Header.Get("Content-Type"), data)
}

// parseResponse maps an add-checkpoint response to the signature lines or
// an error (see AddCheckpoint).
func parseResponse(status int, contentType string, body []byte) ([]byte, error) {
	switch status {
	case http.StatusOK:
		if _, err := ParseSignatureLines(body); err != nil {
			return nil, &StatusError{Status: status, Body: evidence(body), Err: err}
		}
		return body, nil
	case http.StatusConflict:
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "text/x.tlog.size" {
			return nil, &StatusError{Status: status, Body: evidence(body), Err: fmt.Errorf("Content-Type %q, want text/x.tlog.size", contentType)}
		}
		n, err := ParseSize(body)
		if err != nil {
			return nil, &StatusError{Status: status, Body: evidence(body), Err: err}
		}
		return nil, &ConflictError{Size: n}
	case http.StatusUnprocessableEntity, http.StatusForbidden, http.StatusNotFound:
		return nil, &RefusedError{Status: status, Body: evidence(body)}
	default:
		return nil, &StatusError{Status: status, Body: evidence(body)}
	}
}

// evidence returns the start of a response body as valid UTF-8, for an
// error message.
func evidence(b []byte) string {
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > maxErrorBody { // replacement characters grew it
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// ParseSize parses a 409 body (C2SP tlog-witness, "add-checkpoint"): a
// tree size in ASCII decimal — no sign, no leading zero unless it is "0",
// at most 2^63−1 (tlog sizes are int64) — and one newline, nothing else.
func ParseSize(body []byte) (uint64, error) {
	s, ok := bytes.CutSuffix(body, []byte("\n"))
	if !ok || len(s) == 0 || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, fmt.Errorf("witness: size body %q: want a decimal size and a newline", evidence(body))
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("witness: size body %q: want a decimal size and a newline", evidence(body))
		}
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("witness: size body %q: %w", evidence(body), err)
	}
	return uint64(n), nil
}

// ParseSignatureLines parses a 200 body (C2SP tlog-witness,
// "add-checkpoint"): one to 16 note signature lines (C2SP signed-note)
//
//	— <key name> <base64(key ID ‖ signature)>\n
//
// with a valid key name, canonical base64 and at least five decoded bytes.
// It verifies nothing; Accept does.
func ParseSignatureLines(body []byte) ([]note.Signature, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, errors.New("witness: signature lines: want one or more newline-terminated lines")
	}
	var sigs []note.Signature
	for rest := body; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		line := rest[:i]
		rest = rest[i+1:]
		if len(sigs) == maxSigLines {
			return nil, fmt.Errorf("witness: signature lines: more than %d", maxSigLines)
		}
		l, ok := bytes.CutPrefix(line, []byte("— "))
		name, b64, ok2 := bytes.Cut(l, []byte(" "))
		if !ok || !ok2 || !validName(name) {
			return nil, fmt.Errorf("witness: signature line %q: want \"— <name> <base64>\"", evidence(line))
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(string(b64))
		if err != nil || len(raw) < 5 || base64.StdEncoding.EncodeToString(raw) != string(b64) {
			return nil, fmt.Errorf("witness: signature line %q: bad signature encoding", evidence(line))
		}
		sigs = append(sigs, note.Signature{Name: string(name), Hash: binary.BigEndian.Uint32(raw), Base64: string(b64)})
	}
	return sigs, nil
}

// validName is the signed-note rule for a key name: non-empty UTF-8 with
// no Unicode space and no '+'.
func validName(name []byte) bool {
	return len(name) > 0 && utf8.Valid(name) && bytes.IndexFunc(name, unicode.IsSpace) < 0 && !bytes.Contains(name, []byte("+"))
}

// Accept picks the witness's cosignature out of the signature lines a 200
// returned: it opens the checkpoint's body with those lines against v, the
// witness's cosignature verifier, ignoring lines by other keys (C2SP
// tlog-witness: "The client MUST ignore any cosignatures from unknown
// keys"), and returns the verified line (with its newline) and signature.
// A line by v's key that does not verify, or no line by it, is an error.
func Accept(signedNote, lines []byte, v note.Verifier) ([]byte, note.Signature, error) {
	split := bytes.LastIndex(signedNote, []byte("\n\n"))
	if split < 0 {
		return nil, note.Signature{}, errors.New("witness: accept: the checkpoint is not a signed note")
	}
	sigs, err := ParseSignatureLines(lines)
	if err != nil {
		return nil, note.Signature{}, err
	}
	msg := append(bytes.Clone(signedNote[:split+2]), lines...)
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var une *note.UnverifiedNoteError
		if errors.As(err, &une) {
			return nil, note.Signature{}, fmt.Errorf("witness: accept: no cosignature by %s+%08x among %d lines", v.Name(), v.KeyHash(), len(sigs))
		}
		return nil, note.Signature{}, fmt.Errorf("witness: accept: cosignature by %s+%08x: %w", v.Name(), v.KeyHash(), err)
	}
	s := n.Sigs[0]
	return []byte("— " + s.Name + " " + s.Base64 + "\n"), s, nil
}
