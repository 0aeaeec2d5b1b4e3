package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fixtap/fixtap/internal/clock"
)

// Object metadata (C2SP tlog-tiles, "APIs"): the checkpoint is
// text/plain; charset=utf-8 and mutable, "so its headers SHOULD prevent
// caching beyond a few seconds"; tiles and entry bundles are
// application/octet-stream and immutable, "so its caching headers SHOULD be
// long-lived". The events bundles (fixtap's extension) are JSON Lines.
const (
	typeCheckpoint = "text/plain; charset=utf-8"
	typeTile       = "application/octet-stream"
	typeEvents     = "application/jsonl"
	cacheMutable   = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
)

// object is one object to write: its tlog-tiles path (below the store's
// prefix) and bytes.
type object struct {
	path        string
	body        []byte
	sum         [32]byte // SHA-256 of body
	contentType string
	mutable     bool // the checkpoint: overwritten, not conditionally created
}

func newObject(path string, body []byte, contentType string) *object {
	return &object{path: path, body: body, sum: sha256.Sum256(body), contentType: contentType}
}

// bucket is the S3 side of one store. PUTs, the hot path (a few objects
// per 256 events, per store), are plain net/http requests signed with
// SigV4 (putOnce); GETs (read-backs, Audit, the checkpoint check at start)
// go through the SDK's client. Both share one connection pool.
type bucket struct {
	cfg     Store
	c       *s3.Client
	hc      *awshttp.BuildableClient
	signer  *v4.Signer
	creds   aws.Credentials
	base    string // the URL of the bucket's keys, ending in "/"
	timeout time.Duration
}

func newBucket(cfg Store, timeout time.Duration, parallel int) *bucket {
	// Keep a connection per upload in flight: the SDK's default of 10 idle
	// connections per host would close and reopen the others all the time.
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = parallel + 2
		tr.MaxIdleConns = max(tr.MaxIdleConns, parallel+2)
	})
	c := s3.New(s3.Options{
		HTTPClient:   hc,
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: cfg.PathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		// We send our own x-amz-checksum-sha256 and compare bytes read back
		// ourselves: no CRC the SDK would add or check on its own.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// A few quick retries of throttling and transient faults; the
		// replicator's own backoff handles outages.
		RetryMaxAttempts: putAttempts,
	})
	return &bucket{
		cfg: cfg, c: c, hc: hc, timeout: timeout, base: bucketURL(cfg),
		// S3 signs the path as sent, escaped once (escapeKey).
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		creds:  aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, Source: "fixtap"},
	}
}

// bucketURL is the URL the store's keys are appended to: path-style
// (Endpoint/Bucket/) when configured, or when the bucket's name is no DNS
// label (the SDK's rule too); else virtual-hosted (scheme://Bucket.host/).
func bucketURL(cfg Store) string {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || cfg.PathStyle || !dnsBucket(cfg.Bucket) {
		return strings.TrimSuffix(cfg.Endpoint, "/") + "/" + escapeKey(cfg.Bucket) + "/"
	}
	return u.Scheme + "://" + cfg.Bucket + "." + u.Host + "/"
}

// dnsBucket reports whether a bucket name can be a host name label (the
// SDK's virtual-host test over HTTPS: 3–63 lower-case letters, digits and
// hyphens, no hyphen at either end).
func dnsBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '-' || b[len(b)-1] == '-' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// escapeKey percent-encodes every byte of an object key but the RFC 3986
// unreserved characters and "/", as SigV4 for S3 wants the path (once).
func escapeKey(k string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// putAttempts is how often one PUT is tried on a transient fault (a
// transport error, 429 or 5xx), as the SDK's standard retryer would; the
// replicator's own backoff handles outages.
const putAttempts = 3

// put writes o and returns the store's receipt. An immutable object is
// created conditionally (If-None-Match: *, RFC 9110 §13.1.2; S3 conditional
// writes) with its SHA-256 (x-amz-checksum-sha256, which the store
// verifies against the body and echoes). If it exists already (412), put
// reads it back: the same bytes are a repeated write (a receipt with
// Existing set), other bytes a *ConflictError.
func (b *bucket) put(ctx context.Context, o *object, treeSize uint64) (*Receipt, error) {
	key := b.cfg.key(o.path)
	rctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		r, err := b.putOnce(rctx, o, key, treeSize)
		var se *statusError
		if err == nil {
			return r, nil
		}
		if errors.As(err, &se) && se.Status == http.StatusPreconditionFailed && !o.mutable {
			return b.readBack(ctx, key, o.body, o.sum, treeSize)
		}
		retry := se == nil || se.Status == http.StatusTooManyRequests || se.Status >= 500
		if _, ok := err.(*ChecksumError); ok {
			retry = false
		}
		if !retry || attempt == putAttempts || rctx.Err() != nil {
			if _, ok := err.(*ChecksumError); ok {
				return nil, err
			}
			return nil, fmt.Errorf("replica: store %s: put %s: %w", b.cfg.Name, key, err)
		}
		// Exponential backoff with full jitter, as the SDK's retryer.
		wait := time.NewTimer(mrand.N(50 * time.Millisecond << attempt))
		select {
		case <-wait.C:
		case <-rctx.Done():
			wait.Stop()
			return nil, fmt.Errorf("replica: store %s: put %s: %w (after %v)", b.cfg.Name, key, rctx.Err(), err)
		}
	}
}

// putOnce sends one signed PUT of o (SigV4 over the headers and the
// payload's SHA-256 we computed already: the body is hashed once, by
// newObject). A non-2xx answer is a *statusError.
func (b *bucket) putOnce(ctx context.Context, o *object, key string, treeSize uint64) (*Receipt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, b.base+escapeKey(key), bytes.NewReader(o.body))
	if err != nil {
		return nil, err
	}
	hexSum := hex.EncodeToString(o.sum[:])
	b64 := base64.StdEncoding.EncodeToString(o.sum[:])
	h := req.Header
	h["Content-Type"] = []string{o.contentType}
	if o.mutable {
		h["Cache-Control"] = []string{cacheMutable}
	} else {
		h["Cache-Control"] = []string{cacheImmutable}
		h["If-None-Match"] = []string{"*"}
	}
	h["X-Amz-Checksum-Sha256"] = []string{b64}
	h["X-Amz-Sdk-Checksum-Algorithm"] = []string{string(types.ChecksumAlgorithmSha256)}
	h["X-Amz-Content-Sha256"] = []string{hexSum}
	if err := b.signer.SignHTTP(ctx, b.creds, req, hexSum, "s3", b.cfg.Region, clock.Wall()); err != nil {
		return nil, err
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newStatusError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
	r := b.receipt(key, o.body, o.sum, treeSize, resp.Header.Get("X-Amz-Request-Id"), resp.Header.Get("Date"))
	r.ETag = resp.Header.Get("ETag")
	r.ChecksumSHA256 = resp.Header.Get("X-Amz-Checksum-Sha256")
	if r.ChecksumSHA256 != "" && r.ChecksumSHA256 != b64 {
		return nil, &ChecksumError{Store: b.cfg.Name, Key: key, Want: b64, Got: r.ChecksumSHA256, RequestID: r.RequestID}
	}
	return r, nil
}

// statusError is a store's non-2xx answer to a PUT, with the S3 error
// document's code and message when it sent one.
type statusError struct {
	Status                   int
	Code, Message, RequestID string
}

func newStatusError(resp *http.Response) *statusError {
	e := &statusError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amz-Request-Id")}
	var doc struct {
		Code, Message, RequestId string
	}
	if body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && xml.Unmarshal(body, &doc) == nil {
		e.Code, e.Message = doc.Code, doc.Message
		if e.RequestID == "" {
			e.RequestID = doc.RequestId
		}
	}
	return e
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s (request id %s)", e.Status, e.Code, e.Message, e.RequestID)
}

func (b *bucket) receipt(key string, body []byte, sum [32]byte, treeSize uint64, requestID, date string) *Receipt {
	return &Receipt{
		Store: b.cfg.Name, Endpoint: b.cfg.Endpoint, Bucket: b.cfg.Bucket, Key: key,
		Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), TreeSize: treeSize,
		RequestID: requestID, Date: date,
	}
}

// sdkReceipt is receipt with the request id and Date of an SDK answer.
func (b *bucket) sdkReceipt(key string, body []byte, sum [32]byte, treeSize uint64, md smithymiddleware.Metadata) *Receipt {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	date := ""
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
		date = raw.Header.Get("Date")
	}
	return b.receipt(key, body, sum, treeSize, id, date)
}

// readBack compares an existing object with body.
func (b *bucket) readBack(ctx context.Context, key string, body []byte, sum [32]byte, treeSize uint64) (*Receipt, error) {
	got, md, etag, found, err := b.get(ctx, key, int64(len(body))+1)
	if err != nil {
		return nil, err
	}
	if !found {
		// Gone again between the 412 and the read: retry later.
		return nil, fmt.Errorf("replica: store %s: %s answered 412 to a conditional create but is not there", b.cfg.Name, key)
	}
	if !bytes.Equal(got, body) {
		gs := sha256.Sum256(got)
		return nil, &ConflictError{Store: b.cfg.Name, Key: key, WantSHA256: hex.EncodeToString(sum[:]), GotSHA256: hex.EncodeToString(gs[:]), GotSize: int64(len(got))}
	}
	r := b.sdkReceipt(key, body, sum, treeSize, md)
	r.ETag = etag
	r.Existing = true
	return r, nil
}

// get reads an object, at most limit bytes of it (an object longer than
// that is returned cut at limit). found is false on 404.
func (b *bucket) get(ctx context.Context, key string, limit int64) (body []byte, md smithymiddleware.Metadata, etag string, found bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	out, err := b.c.GetObject(rctx, &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if notFound(err) {
			return nil, md, "", false, nil
		}
		return nil, md, "", false, fmt.Errorf("replica: store %s: get %s: %w", b.cfg.Name, key, err)
	}
	defer out.Body.Close()
	body, err = io.ReadAll(io.LimitReader(out.Body, limit))
	if err != nil {
		return nil, md, "", false, fmt.Errorf("replica: store %s: get %s: %w", b.cfg.Name, key, err)
	}
	return body, out.ResultMetadata, aws.ToString(out.ETag), true, nil
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
