package seal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// oidExtKeyUsage is id-ce-extKeyUsage, for building test certificates.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// testPKI is a throw-away TSA hierarchy: an ECDSA P-256 root and a TSA
// certificate under it with a critical timeStamping EKU (RFC 3161 §2.3).
type testPKI struct {
	root    *x509.Certificate
	rootKey *ecdsa.PrivateKey
	tsa     *x509.Certificate
	tsaKey  *ecdsa.PrivateKey
}

var (
	pkiNotBefore      = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	pkiNotAfter       = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	tokenTime         = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

func newTestPKI(t testing.TB, ekuCritical bool) *testPKI {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fixtap test TSA root"},
		NotBefore: pkiNotBefore, NotAfter: pkiNotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	tsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	if err != nil {
		t.Fatal(err)
	}
	tsaTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fixtap test TSA"},
		NotBefore: pkiNotBefore, NotAfter: pkiNotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: ekuCritical, Value: eku}},
	}
	tsaDER, err := x509.CreateCertificate(rand.Reader, tsaTmpl, root, &tsaKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	tsa, _ := x509.ParseCertificate(tsaDER)
	return &testPKI{root: root, rootKey: rootKey, tsa: tsa, tsaKey: tsaKey}
}

func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// tsaMode says how the test TSA misbehaves.
type tsaMode int

const (
	tsaGood tsaMode = iota
	tsaWrongImprint
	tsaNoNonce
	tsaWrongNonce
	tsaBadSignature
)

// respond answers a DER TimeStampReq as a TSA would (digitorus
// CreateResponseWithOpts), misbehaving as mode says.
func (p *testPKI) respond(t testing.TB, reqDER []byte, mode tsaMode) []byte {
	t.Helper()
	resp, err := p.response(reqDER, mode)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// response is respond for HTTP handlers, which must not call t.Fatal.
func (p *testPKI) response(reqDER []byte, mode tsaMode) ([]byte, error) {
	req, err := timestamp.ParseRequest(reqDER)
	if err != nil {
		return nil, err
	}
	ts := &timestamp.Timestamp{
		HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage,
		Time: tokenTime, Accuracy: time.Second, Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
		Nonce: req.Nonce, AddTSACertificate: req.Certificates,
	}
	switch mode {
	case tsaWrongImprint:
		ts.HashedMessage = bytes.Repeat([]byte{0xab}, 32)
	case tsaNoNonce:
		ts.Nonce = nil
	case tsaWrongNonce:
		ts.Nonce = new(big.Int).Add(req.Nonce, big.NewInt(1))
	}
	resp, err := ts.CreateResponseWithOpts(p.tsa, p.tsaKey, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if mode == tsaBadSignature {
		// Re-sign with another key: a signature that does not verify
		// under the certificate the token carries.
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return ts.CreateResponseWithOpts(p.tsa, other, crypto.SHA256)
	}
	return resp, nil
}

func testNote(t *testing.T) []byte {
	c, err := signCheckpoint(testKey(t), testOrigin, 1234, testRoot())
	if err != nil {
		t.Fatal(err)
	}
	return c.Note
}

func window() (time.Time, time.Time) { return tokenTime.Add(-time.Minute), tokenTime.Add(time.Minute) }

// TestTimestampLocalTSA: a token from a local TSA over HTTP is accepted,
// and then by `openssl ts -verify` too.
func TestTimestampLocalTSA(t *testing.T) {
	p := newTestPKI(t, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, err := p.response(body, tsaGood)
		if err != nil { // not t.Fatal: this is the server's goroutine
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	defer srv.Close()
	note := testNote(t)
	nonce := big.NewInt(0x5eed)
	req, err := TimestampRequest(note, nonce)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := RequestTimestamp(context.Background(), srv.Client(), srv.URL, req)
	if err != nil {
		t.Fatal(err)
	}
	nb, na := window()
	ts, err := VerifyTimestampResponse(resp, note, nonce, &TokenPolicy{Roots: p.roots(), NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Time.Equal(tokenTime) {
		t.Errorf("genTime %v, want %v", ts.Time, tokenTime)
	}
	opensslVerify(t, p, note, ts.RawToken)
}

// opensslVerify runs `openssl ts -verify -data <note> -CAfile <root>` on a
// token, when openssl is installed.
func opensslVerify(t *testing.T, p *testPKI, note, token []byte) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("openssl not installed: token not checked by openssl ts -verify")
		return
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	notePath := write("checkpoint.note", note)
	tokPath := write("token.der", token)
	caPath := write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}))
	out, err := exec.Command(bin, "ts", "-verify", "-data", notePath, "-in", tokPath, "-token_in", "-CAfile", caPath,
		"-attime", "1795000000").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
}

// TestTimestampRejects: every check of VerifyTimestampResponse refuses
// the token it exists for.
func TestTimestampRejects(t *testing.T) {
	good := newTestPKI(t, true)
	nonCrit := newTestPKI(t, false)
	stranger := newTestPKI(t, true)
	note := testNote(t)
	nonce := big.NewInt(424242)
	req, err := TimestampRequest(note, nonce)
	if err != nil {
		t.Fatal(err)
	}
	nb, na := window()
	for _, tc := range []struct {
		name   string
		pki    *testPKI
		mode   tsaMode
		roots  *x509.CertPool
		nb, na time.Time
		check  string
	}{
		{"CorruptedSignature", good, tsaBadSignature, good.roots(), nb, na, "status"},
		{"WrongImprint", good, tsaWrongImprint, good.roots(), nb, na, "imprint"},
		{"MissingNonce", good, tsaNoNonce, good.roots(), nb, na, "nonce"},
		{"WrongNonce", good, tsaWrongNonce, good.roots(), nb, na, "nonce"},
		{"NonCriticalEKU", nonCrit, tsaGood, nonCrit.roots(), nb, na, "eku"},
		{"UntrustedCert", stranger, tsaGood, good.roots(), nb, na, "signature"},
		{"NoRoots", good, tsaGood, nil, nb, na, "signature"},
		{"TooEarly", good, tsaGood, good.roots(), tokenTime.Add(time.Second), na, "time"},
		{"TooLate", good, tsaGood, good.roots(), nb, tokenTime.Add(-time.Second), "time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.pki.respond(t, req, tc.mode)
			_, err := VerifyTimestampResponse(resp, note, nonce, &TokenPolicy{Roots: tc.roots, NotBefore: tc.nb, NotAfter: tc.na})
			var te *TokenError
			if !errors.As(err, &te) || !errors.Is(err, ErrTokenInvalid) || te.Check != tc.check {
				t.Fatalf("err = %v, want a TokenError from check %q", err, tc.check)
			}
		})
	}
	// The same note with one byte changed is not what the token covers.
	resp := good.respond(t, req, tsaGood)
	other := bytes.Clone(note)
	other[0] ^= 1
	if _, err := VerifyTimestampResponse(resp, other, nonce, &TokenPolicy{Roots: good.roots(), NotBefore: nb, NotAfter: na}); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("token accepted for another note: %v", err)
	}
	// An error status from the TSA.
	rej, err := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadRequest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyTimestampResponse(rej, note, nonce, &TokenPolicy{Roots: good.roots(), NotBefore: nb, NotAfter: na}); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("rejection accepted: %v", err)
	}
}

// TestTimestampOpenSSLTSA: a real OpenSSL TSA (`openssl ts -reply`, ESS
// cert id v2 via ess_cert_id_alg = sha256) answers our request; its token
// passes VerifyTimestampResponse and `openssl ts -verify`.
func TestTimestampOpenSSLTSA(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := newTestPKI(t, true)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER, err := x509.MarshalECPrivateKey(p.tsaKey)
	if err != nil {
		t.Fatal(err)
	}
	write("tsa.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	write("tsa.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.tsa.Raw}))
	write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}))
	write("serial", []byte("01\n"))
	cfg := write("tsa.cnf", []byte(`[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = `+dir+`
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/root.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.2
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`))
	note := testNote(t)
	nonce := big.NewInt(0x0badcafe)
	req, err := TimestampRequest(note, nonce)
	if err != nil {
		t.Fatal(err)
	}
	reqPath := write("req.tsq", req)
	respPath := filepath.Join(dir, "resp.tsr")
	if out, err := exec.Command(bin, "ts", "-reply", "-config", cfg, "-queryfile", reqPath, "-out", respPath).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -reply: %v\n%s", err, out)
	}
	resp, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatal(err)
	}
	// The OpenSSL TSA stamps with the real clock; a test may read it.
	now := time.Now()
	ts, err := VerifyTimestampResponse(resp, note, nonce, &TokenPolicy{Roots: p.roots(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	notePath := write("checkpoint.note", note)
	tokPath := write("token.der", ts.RawToken)
	out, err := exec.Command(bin, "ts", "-verify", "-data", notePath, "-in", tokPath, "-token_in", "-CAfile", filepath.Join(dir, "root.pem")).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
	// Someone else's nonce is refused.
	if _, err := VerifyTimestampResponse(resp, note, big.NewInt(1), &TokenPolicy{Roots: p.roots(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("wrong nonce accepted: %v", err)
	}
}
