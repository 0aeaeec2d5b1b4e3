// Package tsp checks RFC 3161 time-stamp tokens offline: the checks that
// need nothing but the token, the data it stamps and the TSA trust roots.
// internal/seal uses it to verify a response before storing it (adding the
// nonce and the time window of a live request); internal/verify uses it to
// re-check a stored token in an exported bundle. It has no network access.
//
// github.com/digitorus/timestamp parses tokens but, as its ParseResponse and
// Parse stand, verifies the CMS signature only against the certificates in
// the token itself; Verify adds every other check RFC 3161 asks for.
package tsp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// ErrInvalid is wrapped by every *Error.
var ErrInvalid = errors.New("tsp: time-stamp token rejected")

// Error reports a token that failed a check, and which.
type Error struct {
	Check string // "parse", "imprint", "signature", "eku", "ess-cert-id"
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("tsp: time-stamp token rejected (%s): %v", e.Check, e.Err)
}

func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

var (
	oidExtKeyUsage          = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// Policy is what a token's signer must chain to.
type Policy struct {
	// Roots are the TSA trust roots (required); Intermediates may help
	// chain (certificates carried in the token are used too).
	Roots, Intermediates *x509.CertPool
}

// Parse parses a DER TimeStampToken (CMS SignedData holding a TSTInfo),
// checking nothing beyond its syntax.
func Parse(token []byte) (*timestamp.Timestamp, error) {
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, &Error{Check: "parse", Err: err}
	}
	return ts, nil
}

// Verify checks a parsed token against the exact bytes it is meant to
// stamp:
//
//   - messageImprint = SHA-256 over data (RFC 3161 §2.4.2);
//   - exactly one signer, carried in the token, whose signature verifies
//     and whose certificate chains to pol.Roots at genTime with the
//     timeStamping extended key usage;
//   - that extension is critical and lists id-kp-timeStamping only
//     (§2.3: "the extension MUST be critical");
//   - a signingCertificateV2 attribute (RFC 5816, ESSCertIDv2) whose
//     SHA-256 hash is of the signer's certificate.
//
// It returns the signer's certificate. The nonce and the genTime window
// are the caller's to check: only a live request knows them.
func Verify(ts *timestamp.Timestamp, data []byte, pol Policy) (*x509.Certificate, error) {
	fail := func(check string, err error) (*x509.Certificate, error) {
		return nil, &Error{Check: check, Err: err}
	}
	if ts.HashAlgorithm != crypto.SHA256 {
		return fail("imprint", fmt.Errorf("hash %v, want SHA-256", ts.HashAlgorithm))
	}
	if want := sha256.Sum256(data); !bytes.Equal(ts.HashedMessage, want[:]) {
		return fail("imprint", fmt.Errorf("imprint %x, want SHA-256 of the stamped bytes %x", ts.HashedMessage, want))
	}
	if pol.Roots == nil {
		return fail("signature", errors.New("no trust roots given"))
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
	if pol.Intermediates != nil {
		inter = pol.Intermediates.Clone()
	}
	for _, c := range p7.Certificates {
		if c != signer {
			inter.AddCert(c)
		}
	}
	err = p7.VerifyWithOpts(x509.VerifyOptions{
		Roots:         pol.Roots,
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
	return signer, nil
}

// Certificates returns the certificates a token carries (the signer's and
// any chain the TSA included), for export beside the token.
func Certificates(ts *timestamp.Timestamp) ([]*x509.Certificate, error) {
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return nil, &Error{Check: "parse", Err: err}
	}
	return p7.Certificates, nil
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
