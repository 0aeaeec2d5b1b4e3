package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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

// bucket is the S3 side of one store.
type bucket struct {
	cfg     Store
	c       *s3.Client
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
		RetryMaxAttempts: 3,
	})
	return &bucket{cfg: cfg, c: c, timeout: timeout}
}

// put writes o and returns the store's receipt. An immutable object is
// created conditionally (If-None-Match: *, RFC 9110 §13.1.2; S3 conditional
// writes) with its SHA-256 (x-amz-checksum-sha256, which the store
// verifies against the body and echoes). If it exists already (412), put
// reads it back: the same bytes are a repeated write (a receipt with
// Existing set), other bytes a *ConflictError.
func (b *bucket) put(ctx context.Context, o *object, treeSize uint64) (*Receipt, error) {
	key := b.cfg.key(o.path)
	sum := o.sum
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	in := &s3.PutObjectInput{
		Bucket:            aws.String(b.cfg.Bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(o.body),
		ContentLength:     aws.Int64(int64(len(o.body))),
		ContentType:       aws.String(o.contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(b64),
		CacheControl:      aws.String(cacheImmutable),
	}
	if o.mutable {
		in.CacheControl = aws.String(cacheMutable)
	} else {
		in.IfNoneMatch = aws.String("*")
	}
	rctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	out, err := b.c.PutObject(rctx, in, s3.WithAPIOptions(payloadHash(hex.EncodeToString(sum[:]))))
	if err != nil {
		if !o.mutable && preconditionFailed(err) {
			return b.readBack(ctx, key, o.body, sum, treeSize)
		}
		return nil, fmt.Errorf("replica: store %s: put %s: %w", b.cfg.Name, key, err)
	}
	r := b.receipt(key, o.body, sum, treeSize, out.ResultMetadata)
	r.ETag = aws.ToString(out.ETag)
	r.ChecksumSHA256 = aws.ToString(out.ChecksumSHA256)
	if r.ChecksumSHA256 != "" && r.ChecksumSHA256 != b64 {
		return nil, &ChecksumError{Store: b.cfg.Name, Key: key, Want: b64, Got: r.ChecksumSHA256, RequestID: r.RequestID}
	}
	return r, nil
}

func (b *bucket) receipt(key string, body []byte, sum [32]byte, treeSize uint64, md smithymiddleware.Metadata) *Receipt {
	r := &Receipt{
		Store: b.cfg.Name, Endpoint: b.cfg.Endpoint, Bucket: b.cfg.Bucket, Key: key,
		Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), TreeSize: treeSize,
	}
	r.RequestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
		r.Date = raw.Header.Get("Date")
	}
	return r
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
	r := b.receipt(key, body, sum, treeSize, md)
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

// payloadHash gives SigV4 the payload's SHA-256 we computed already, so
// the SDK does not hash the body again (a signed payload over HTTP, and
// over HTTPS too instead of UNSIGNED-PAYLOAD).
func payloadHash(hexSum string) func(*smithymiddleware.Stack) error {
	return func(st *smithymiddleware.Stack) error {
		return st.Finalize.Add(smithymiddleware.FinalizeMiddlewareFunc("fixtapPayloadSHA256",
			func(ctx context.Context, in smithymiddleware.FinalizeInput, next smithymiddleware.FinalizeHandler) (smithymiddleware.FinalizeOutput, smithymiddleware.Metadata, error) {
				return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSum), in)
			}), smithymiddleware.Before)
	}
}

func preconditionFailed(err error) bool {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
