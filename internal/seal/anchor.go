package seal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/fixtap/fixtap/internal/tsp"
)

// RFC 3161 anchoring of checkpoints (docs/vcp-profile.md §3): the message
// imprint is SHA-256 of the exact signed checkpoint note, so
// `openssl ts -verify -data checkpoint.note -CAfile <tsa-root>` accepts the
// token. This file makes requests and verifies responses; the scheduler
// that anchors the newest checkpoint per TSA is not written yet.

// ErrTokenInvalid is wrapped by every *TokenError.
var ErrTokenInvalid = errors.New("seal: time-stamp token rejected")

// TokenError reports a time-stamp response that failed verification, and
// which check it failed.
type TokenError struct {
	Check string // "status", "imprint", "nonce", "signature", "eku", "ess-cert-id", "time"
	Err   error
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("seal: time-stamp token rejected (%s): %v", e.Check, e.Err)
}

func (e *TokenError) Unwrap() []error { return []error{ErrTokenInvalid, e.Err} }

const maxTimestampResponseSize = int64(1 << 20)

// TimestampRequest is the DER RFC 3161 TimeStampReq for a signed
// checkpoint note: messageImprint = SHA-256(note), the given nonce,
// certReq = true (the token must carry the TSA's certificate, which the
// verifier then chains to the configured roots).
func TimestampRequest(checkpointNote []byte, nonce *big.Int) ([]byte, error) {
	if nonce == nil || nonce.Sign() <= 0 {
		return nil, errors.New("seal: time-stamp request: want a positive nonce")
	}
	der, err := timestamp.CreateRequest(bytes.NewReader(checkpointNote), &timestamp.RequestOptions{
		Hash: crypto.SHA256, Certificates: true, Nonce: nonce,
	})
	if err != nil {
		return nil, fmt.Errorf("seal: time-stamp request: %w", err)
	}
	return der, nil
}

// TokenPolicy is what a time-stamp token must satisfy beyond its own
// signature.
type TokenPolicy struct {
	// Roots are the configured TSA trust roots; Intermediates may help
	// chain (certificates in the token are used too).
	Roots, Intermediates *x509.CertPool
	// NotBefore and NotAfter bound the token's genTime (a sane window
	// around the request, from internal/clock; fixtap never reads the wall
	// clock here).
	NotBefore, NotAfter time.Time
}

// VerifyTimestampResponse fully verifies a DER TimeStampResp for
// checkpointNote and returns its token. timestamp.ParseResponse checks the
// status and, only when the token carries certificates, the CMS signature
// against them; this adds every other check RFC 3161 and the profile ask:
//
//   - status granted, and the token carries its signer's certificate;
//   - messageImprint = SHA-256 over the exact note bytes (§2.4.2);
//   - our nonce echoed (§2.4.2);
//   - exactly one signer, whose signature verifies and whose certificate
//     chains to policy.Roots at genTime with the timeStamping EKU;
//   - that EKU extension is critical and lists id-kp-timeStamping only
//     (§2.3: "the extension MUST be critical");
//   - a signingCertificateV2 attribute (RFC 5816, ESSCertIDv2) whose
//     SHA-256 hash is of the signer's certificate;
//   - genTime within [NotBefore, NotAfter].
func VerifyTimestampResponse(resp, checkpointNote []byte, nonce *big.Int, policy *TokenPolicy) (*timestamp.Timestamp, error) {
	fail := func(check string, err error) (*timestamp.Timestamp, error) {
		return nil, &TokenError{Check: check, Err: err}
	}
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		return fail("status", err)
	}
	if ts.Nonce == nil || nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return fail("nonce", fmt.Errorf("nonce %v, want %v", ts.Nonce, nonce))
	}
	if _, err := tsp.Verify(ts, checkpointNote, tsp.Policy{Roots: policy.Roots, Intermediates: policy.Intermediates}); err != nil {
		var te *tsp.Error
		if errors.As(err, &te) {
			return fail(te.Check, te.Err)
		}
		return fail("signature", err)
	}
	if ts.Time.Before(policy.NotBefore) || ts.Time.After(policy.NotAfter) {
		return fail("time", fmt.Errorf("genTime %v outside [%v, %v]", ts.Time, policy.NotBefore, policy.NotAfter))
	}
	return ts, nil
}

// RequestTimestamp posts req to a TSA (RFC 3161 §3.4, time-stamp protocol
// via HTTP) and returns the DER response body, unverified.
func RequestTimestamp(ctx context.Context, client *http.Client, url string, req []byte) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("seal: tsa %s: %w", url, err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("seal: tsa %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("seal: tsa %s: http status %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/timestamp-reply" {
		return nil, fmt.Errorf("seal: tsa %s: content type %q, want application/timestamp-reply", url, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTimestampResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: tsa %s: %w", url, err)
	}
	if int64(len(body)) > maxTimestampResponseSize {
		return nil, fmt.Errorf("seal: tsa %s: response over %d bytes", url, maxTimestampResponseSize)
	}
	return body, nil
}
