package seal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
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

var (
	oidExtKeyUsage           = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidSigningCertificateV2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	maxTimestampResponseSize = int64(1 << 20)
)

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
	if ts.HashAlgorithm != crypto.SHA256 {
		return fail("imprint", fmt.Errorf("hash %v, want SHA-256", ts.HashAlgorithm))
	}
	want := sha256.Sum256(checkpointNote)
	if !bytes.Equal(ts.HashedMessage, want[:]) {
		return fail("imprint", fmt.Errorf("imprint %x, want SHA-256(note) %x", ts.HashedMessage, want))
	}
	if ts.Nonce == nil || nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return fail("nonce", fmt.Errorf("nonce %v, want %v", ts.Nonce, nonce))
	}
	if policy.Roots == nil {
		return fail("signature", errors.New("no trust roots configured"))
	}
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return fail("signature", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return fail("signature", errors.New("want exactly one signer, with its certificate in the token"))
	}
	inter := x509.NewCertPool()
	if policy.Intermediates != nil {
		inter = policy.Intermediates.Clone()
	}
	for _, c := range p7.Certificates {
		if c != signer {
			inter.AddCert(c)
		}
	}
	err = p7.VerifyWithOpts(x509.VerifyOptions{
		Roots:         policy.Roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		CurrentTime:   ts.Time,
	})
	if err != nil {
		return fail("signature", err)
	}
	if err := checkTimestampingEKU(signer); err != nil {
		return fail("eku", err)
	}
	if err := checkESSCertIDv2(p7, signer); err != nil {
		return fail("ess-cert-id", err)
	}
	if ts.Time.Before(policy.NotBefore) || ts.Time.After(policy.NotAfter) {
		return fail("time", fmt.Errorf("genTime %v outside [%v, %v]", ts.Time, policy.NotBefore, policy.NotAfter))
	}
	return ts, nil
}

// checkTimestampingEKU: RFC 3161 §2.3, the TSA's certificate has one
// critical extendedKeyUsage extension holding id-kp-timeStamping only.
func checkTimestampingEKU(c *x509.Certificate) error {
	var ext *pkix.Extension
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(oidExtKeyUsage) {
			if ext != nil {
				return errors.New("two extendedKeyUsage extensions")
			}
			ext = &c.Extensions[i]
		}
	}
	switch {
	case ext == nil:
		return errors.New("no extendedKeyUsage extension")
	case !ext.Critical:
		return errors.New("extendedKeyUsage is not critical")
	case len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0:
		return fmt.Errorf("extendedKeyUsage %v %v, want timeStamping only", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	return nil
}

// essCertIDv2 and signingCertificateV2 are RFC 5035 §3 (ESSCertIDv2,
// SigningCertificateV2), as RFC 5816 uses them for time-stamps.
type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"` // DEFAULT id-sha256
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}

// checkESSCertIDv2: the first ESSCertIDv2 of the signed
// signingCertificateV2 attribute names the signer's certificate by its
// SHA-256 hash.
func checkESSCertIDv2(p7 *pkcs7.PKCS7, signer *x509.Certificate) error {
	var sc signingCertificateV2
	if err := p7.UnmarshalSignedAttribute(oidSigningCertificateV2, &sc); err != nil {
		return fmt.Errorf("signingCertificateV2: %w", err)
	}
	if len(sc.Certs) == 0 {
		return errors.New("signingCertificateV2 lists no certificate")
	}
	id := sc.Certs[0]
	if alg := id.HashAlgorithm.Algorithm; len(alg) != 0 && !alg.Equal(oidSHA256) {
		return fmt.Errorf("ESSCertIDv2 hash %v, want SHA-256", alg)
	}
	if h := sha256.Sum256(signer.Raw); !bytes.Equal(id.CertHash, h[:]) {
		return fmt.Errorf("ESSCertIDv2 hash %x is not the signer certificate's %x", id.CertHash, h)
	}
	return nil
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
