package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Size caps of what a replica may send (a replica is untrusted input).
const (
	maxTile        = 256 * 32           // tlog-tiles: a full tile is 8,192 bytes
	maxEntryBundle = 256 * (2 + 0xffff) // 256 uint16-length-prefixed entries
	maxEventBundle = 64 << 20           // 256 event lines
	maxErrorBody   = 512                // of a non-200 answer, kept as evidence
)

// emptySHA256 is the hex SHA-256 of no bytes: the payload hash of a GET.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// FetchError is a replica object that could not be read: the URL, the
// HTTP status (0 when no response came) and the cause. Every check that
// needs an object fails with one of these when it cannot have it.
type FetchError struct {
	URL    string // without credentials or query
	Status int
	Err    error
}

func (e *FetchError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("monitor: GET %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("monitor: GET %s: %d %s: %v", e.URL, e.Status, http.StatusText(e.Status), e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// NotFound reports whether the object is absent (404).
func (e *FetchError) NotFound() bool { return e.Status == http.StatusNotFound }

// SigV4 holds read credentials for a private bucket: every GET is signed
// with AWS Signature Version 4 (service "s3") — still a plain HTTP GET of
// the object's URL, no S3 API.
type SigV4 struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Region                                     string
}

// SigV4FromEnv reads the standard AWS environment variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN;
// AWS_REGION or AWS_DEFAULT_REGION, default us-east-1).
func SigV4FromEnv(getenv func(string) string) (*SigV4, error) {
	s := &SigV4{
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
		Region:          getenv("AWS_REGION"),
	}
	if s.Region == "" {
		s.Region = getenv("AWS_DEFAULT_REGION")
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return nil, errors.New("monitor: SigV4 signing wants AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
	}
	return s, nil
}

// LogValue never shows the secret.
func (s *SigV4) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("off")
	}
	return slog.GroupValue(slog.String("access_key_id", s.AccessKeyID), slog.String("region", s.Region),
		slog.Bool("session_token", s.SessionToken != ""))
}

// fetcher GETs replica objects.
type fetcher struct {
	client *http.Client
	sigv4  *SigV4
	signer *v4.Signer
	now    func() time.Time
}

func newFetcher(c *http.Client, s *SigV4, now func() time.Time) *fetcher {
	f := &fetcher{client: c, sigv4: s, now: now}
	if s != nil {
		// S3 does not double-escape the path (unlike other services).
		f.signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	}
	return f
}

// get reads the object at u, at most max bytes. Anything but 200 OK is a
// *FetchError carrying the status and the start of the body (S3's error
// code). tlog-tiles objects are served as they are; Go's transport asks
// for and undoes gzip transfer compression.
func (f *fetcher) get(ctx context.Context, u string, max int64, noCache bool) ([]byte, error) {
	red := redactURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &FetchError{URL: red, Err: err}
	}
	if noCache {
		// tlog-tiles: the checkpoint is mutable; do not take a cached copy.
		req.Header.Set("Cache-Control", "no-cache")
	}
	if f.signer != nil {
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		creds := aws.Credentials{AccessKeyID: f.sigv4.AccessKeyID, SecretAccessKey: f.sigv4.SecretAccessKey, SessionToken: f.sigv4.SessionToken}
		if err := f.signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", f.sigv4.Region, f.now()); err != nil {
			return nil, &FetchError{URL: red, Err: fmt.Errorf("sigv4: %w", err)}
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already in the FetchError
		}
		return nil, &FetchError{URL: red, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		msg := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
		if msg == "" {
			msg = "no body"
		}
		return nil, &FetchError{URL: red, Status: resp.StatusCode, Err: errors.New(msg)}
	}
	b, err := readAllMax(resp.Body, max)
	if err != nil {
		return nil, &FetchError{URL: red, Status: resp.StatusCode, Err: err}
	}
	return b, nil
}

// readAllMax reads r to the end, refusing more than max bytes.
func readAllMax(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("more than %d bytes", max)
	}
	return b, nil
}

// redactURL drops user information, query and fragment: what is left names
// the object and is safe in logs and metric labels.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
