package tapconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// examplePath is the shipped example session file.
const examplePath = "../../config/fixtap.cfg"

// fakeEtc makes, under dir, every file the example names under
// /etc/fixtap: a real signing key (0600), a 32-byte account secret (0600),
// and a self-signed certificate with its key standing in for the TLS and
// TSA trust files (quickfixgo parses CA files).
func fakeEtc(tb testing.TB, dir string) {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "tls"), 0o700))
	priv, err := chain.GenerateKey(rand.Reader)
	must(err)
	must(chain.WritePrivateKeyFile(filepath.Join(dir, "signing.key"), priv))
	secret := make([]byte, 32)
	_, err = rand.Read(secret)
	must(err)
	must(os.WriteFile(filepath.Join(dir, "account.secret"), secret, 0o600))

	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fixtap test"},
		NotBefore:             time.Unix(1700000000, 0),
		NotAfter:              time.Unix(4000000000, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	must(err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	must(err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	for _, name := range []string{"tls/tap.crt", "tls/oms-ca.pem", "tls/venue-ca.pem", "tsa-roots.pem"} {
		must(os.WriteFile(filepath.Join(dir, name), certPEM, 0o644))
	}
	must(os.WriteFile(filepath.Join(dir, "tls/tap.key"), keyPEM, 0o600))
}

// exampleIn returns the example session file with /etc/fixtap/ pointing
// at dir.
func exampleIn(tb testing.TB, dir string) string {
	tb.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.ReplaceAll(string(data), "/etc/fixtap/", dir+"/")
}

// checkErrShape fails unless err is one *Error or a join of *Errors, each
// with the file name set, sorted by line.
func checkErrShape(tb testing.TB, name string, err error) []*Error {
	tb.Helper()
	var es []*Error
	switch e := err.(type) {
	case *Error:
		es = []*Error{e}
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			xe, ok := x.(*Error)
			if !ok {
				tb.Fatalf("joined error %T (%v) is not *Error", x, x)
			}
			es = append(es, xe)
		}
	default:
		tb.Fatalf("error %T (%v) is neither *Error nor a join of them", err, err)
	}
	if len(es) == 0 {
		tb.Fatalf("error %v holds no *Error", err)
	}
	for i, e := range es {
		if e.File != name {
			tb.Errorf("error %q names file %q, want %q", e, e.File, name)
		}
		if i > 0 && es[i-1].Line > e.Line {
			tb.Errorf("errors not sorted by line: %q before %q", es[i-1], e)
		}
	}
	return es
}
