package s3test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fixtap/fixtap/internal/testenv/testproc"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func sha256b64(b []byte) string {
	h := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

// apiError returns the S3 error code and HTTP status of err, failing the
// test when err is not an S3 API error.
func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("want an S3 API error with an HTTP status, got %T: %v", err, err)
	}
	return ae.ErrorCode(), re.HTTPStatusCode()
}

func get(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s: read: %v", bucket, key, err)
	}
	return b
}

// TestConditionalCreate: PutObject with If-None-Match: * creates a new key
// and answers 412 PreconditionFailed for an existing one, which keeps its
// first content. The replicator relies on this to never overwrite a tile.
func TestConditionalCreate(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "bkt")
	c := s.Client(t)
	put := func(body string) error {
		_, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
			Bucket:      aws.String("bkt"),
			Key:         aws.String("tile/0/000"),
			Body:        strings.NewReader(body),
			IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := put("first"); err != nil {
		t.Fatalf("first conditional create: %v", err)
	}
	err := put("second")
	if err == nil {
		t.Fatal("second conditional create of the same key succeeded; want 412 PreconditionFailed")
	}
	if code, status := apiError(t, err); code != "PreconditionFailed" || status != http.StatusPreconditionFailed {
		t.Fatalf("second conditional create: code %q status %d, want PreconditionFailed 412 (%v)", code, status, err)
	}
	if got := string(get(t, c, "bkt", "tile/0/000")); got != "first" {
		t.Fatalf("after a refused overwrite the object holds %q, want %q", got, "first")
	}
	if got := string(s.ReadObjectFile(t, "bkt", "tile/0/000")); got != "first" {
		t.Fatalf("ObjectFile holds %q, want %q", got, "first")
	}
	// Without the condition the same PUT overwrites: the 412 came from
	// the header, not from something else about the request.
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("tile/0/000"), Body: strings.NewReader("third"),
	}); err != nil {
		t.Fatalf("unconditional overwrite: %v", err)
	}
	if got := string(get(t, c, "bkt", "tile/0/000")); got != "third" {
		t.Fatalf("after an unconditional overwrite the object holds %q, want %q", got, "third")
	}
}

// TestChecksumSHA256: a PutObject carrying x-amz-checksum-sha256 is verified
// (a wrong value is refused with BadDigest and nothing is stored), echoed in
// the response and returned by HeadObject with ChecksumMode ENABLED.
func TestChecksumSHA256(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "bkt")
	c := s.Client(t)
	body := []byte("checkpoint body\n")
	sum := sha256b64(body)

	out, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket:            aws.String("bkt"),
		Key:               aws.String("good"),
		Body:              bytes.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(sum),
		IfNoneMatch:       aws.String("*"),
	})
	if err != nil {
		t.Fatalf("PutObject with the right checksum: %v", err)
	}
	if got := aws.ToString(out.ChecksumSHA256); got != sum {
		t.Errorf("PutObject echoed x-amz-checksum-sha256 %q, want %q", got, sum)
	}
	raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw HTTP response in PutObject's metadata")
	}
	if got := raw.Header.Get("x-amz-checksum-sha256"); got != sum {
		t.Errorf("PutObject response header x-amz-checksum-sha256 = %q, want %q", got, sum)
	}
	for _, h := range []string{"ETag", "x-amz-request-id", "Date"} {
		if raw.Header.Get(h) == "" {
			t.Errorf("PutObject response lacks header %s; headers: %v", h, raw.Header)
		}
	}
	t.Logf("PutObject response headers: %v", raw.Header)

	head, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("good"), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if got := aws.ToString(head.ChecksumSHA256); got != sum {
		t.Errorf("HeadObject(ChecksumMode ENABLED) checksum %q, want the stored %q", got, sum)
	}

	// The replicator's exact request (If-None-Match: * and a SHA-256
	// checksum) on an existing key: 412, whatever the body.
	_, err = c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket:            aws.String("bkt"),
		Key:               aws.String("good"),
		Body:              strings.NewReader("other"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(sha256b64([]byte("other"))),
		IfNoneMatch:       aws.String("*"),
	})
	if code, status := apiError(t, err); code != "PreconditionFailed" || status != http.StatusPreconditionFailed {
		t.Errorf("conditional create with a checksum of an existing key: code %q status %d, want PreconditionFailed 412", code, status)
	}

	wrong := sha256b64([]byte("something else"))
	_, err = c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket:            aws.String("bkt"),
		Key:               aws.String("bad"),
		Body:              bytes.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(wrong),
	})
	if err == nil {
		t.Fatal("PutObject with a wrong x-amz-checksum-sha256 succeeded")
	}
	code, status := apiError(t, err)
	if code != "BadDigest" || status != http.StatusBadRequest {
		t.Errorf("PutObject with a wrong checksum: code %q status %d, want BadDigest 400 (%v)", code, status, err)
	}
	if _, err := os.Stat(s.ObjectFile("bkt", "bad")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused PutObject left %s behind (stat: %v)", s.ObjectFile("bkt", "bad"), err)
	}
	_, err = c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("bad")})
	if code, status := apiError(t, err); status != http.StatusNotFound {
		t.Errorf("HeadObject of the refused key: code %q status %d, want 404", code, status)
	}
}

// TestPublicRead: before MakePublicRead an anonymous GET is refused (403);
// after it, a plain net/http GET of URL(bucket, prefix)+key returns the
// object with ETag, x-amz-request-id and Date, a missing key is 404, and
// anonymous writes and listings stay refused.
func TestPublicRead(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "pub")
	c := s.Client(t)
	body := []byte("tile bytes")
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String("pub"), Key: aws.String("log1/tile/0/000"), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatal(err)
	}
	url := s.URL("pub", "log1") + "tile/0/000"
	if want := s.Endpoint + "/pub/log1/tile/0/000"; url != want {
		t.Fatalf("URL = %q, want %q", url, want)
	}
	if got := s.URL("pub", ""); got != s.Endpoint+"/pub/" {
		t.Fatalf("URL(pub, \"\") = %q", got)
	}
	do := func(method, url string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctxT(t), method, url, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	if resp, b := do("GET", url, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET before MakePublicRead: %s %q, want 403", resp.Status, b)
	}
	s.MakePublicRead(t, "pub")

	resp, b := do("GET", url, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, body) {
		t.Fatalf("anonymous GET after MakePublicRead: %s %q, want 200 %q", resp.Status, b, body)
	}
	for _, h := range []string{"ETag", "x-amz-request-id", "Date", "Last-Modified", "Content-Length"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("anonymous GET response lacks header %s; headers: %v", h, resp.Header)
		}
	}
	t.Logf("anonymous GET response headers: %v", resp.Header)

	if resp, _ := do("HEAD", url, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Errorf("anonymous HEAD after MakePublicRead: %s, Content-Length %q; want 200, %d", resp.Status, resp.Header.Get("Content-Length"), len(body))
	}
	if resp, b := do("GET", s.URL("pub", "log1")+"tile/0/001", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("anonymous GET of a missing key: %s %q, want 404", resp.Status, b)
	}
	if resp, b := do("PUT", s.URL("pub", "log1")+"evil", strings.NewReader("x")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous PUT: %s %q, want 403", resp.Status, b)
	}
	if _, err := os.Stat(s.ObjectFile("pub", "log1/evil")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("anonymous PUT created %s (stat: %v)", s.ObjectFile("pub", "log1/evil"), err)
	}
	if resp, b := do("GET", s.Endpoint+"/pub/?list-type=2", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous ListObjectsV2: %s %q, want 403", resp.Status, b)
	}
}

// TestObjectFile: the object's bytes are the file ObjectFile names; a
// flipped byte there is what GET returns (versitygw does not verify stored
// data on read), SDK response-checksum validation catches it when the object
// was stored with a SHA-256 checksum, and a removed file is a 404 NoSuchKey.
func TestObjectFile(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "bkt")
	c := s.Client(t)
	body := []byte("0123456789")
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("p/tile/entries/000"), Body: bytes.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(sha256b64(body)),
	}); err != nil {
		t.Fatal(err)
	}
	f := s.ObjectFile("bkt", "p/tile/entries/000")
	if got := s.ReadObjectFile(t, "bkt", "p/tile/entries/000"); !bytes.Equal(got, body) {
		t.Fatalf("ObjectFile %s holds %q, want %q", f, got, body)
	}
	tampered := bytes.Clone(body)
	tampered[3] ^= 1
	if err := os.WriteFile(f, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := get(t, c, "bkt", "p/tile/entries/000"); !bytes.Equal(got, tampered) {
		t.Fatalf("GET after tampering returned %q, want the tampered %q", got, tampered)
	}
	out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("p/tile/entries/000"), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatalf("GetObject(ChecksumMode ENABLED): %v", err)
	}
	_, err = io.ReadAll(out.Body)
	out.Body.Close()
	if err == nil {
		t.Errorf("GetObject(ChecksumMode ENABLED) of a tampered object read without a checksum error")
	} else {
		t.Logf("GetObject(ChecksumMode ENABLED) of a tampered object: %v", err)
	}

	if err := os.Remove(f); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("p/tile/entries/000")})
	if code, status := apiError(t, err); code != "NoSuchKey" || status != http.StatusNotFound {
		t.Errorf("GET of a deleted object file: code %q status %d, want NoSuchKey 404", code, status)
	}
}

// TestStopRestart: Stop leaves no process behind and the endpoint refuses
// connections; Restart serves the same objects on the same endpoint.
func TestStopRestart(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "bkt")
	c := s.Client(t)
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("checkpoint"), Body: strings.NewReader("cp1"),
	}); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	endpoint := s.Endpoint
	s.Stop(t)
	if testproc.Alive(pid) {
		t.Fatalf("versitygw pid %d alive after Stop", pid)
	}
	noRetry := s3.New(c.Options(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if _, err := noRetry.HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: aws.String("bkt")}); err == nil {
		t.Fatal("HeadBucket succeeded while the server was stopped")
	}
	s.Restart(t)
	if s.Endpoint != endpoint || s.PID() == pid {
		t.Fatalf("after Restart: endpoint %s pid %d; want endpoint %s and a new pid (old %d)", s.Endpoint, s.PID(), endpoint, pid)
	}
	if got := string(get(t, c, "bkt", "checkpoint")); got != "cp1" {
		t.Fatalf("after Restart the object holds %q, want %q", got, "cp1")
	}
	pid2 := s.PID()
	s.Restart(t) // Restart of a running server stops it first
	if testproc.Alive(pid2) {
		t.Fatalf("versitygw pid %d alive after a Restart replaced it", pid2)
	}
	s.Stop(t)
	if testproc.Alive(s.PID()) {
		t.Fatalf("versitygw pid %d alive after Stop", s.PID())
	}
}

// TestLostPort: versitygw told to listen on a taken port exits saying
// "address already in use", which Start takes as the cue to retry.
func TestLostPort(t *testing.T) {
	s := Start(t)
	taken := &Server{Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Dir: t.TempDir(), path: s.path, port: s.port, addr: s.addr, Endpoint: s.Endpoint}
	err := taken.start(t)
	if err == nil {
		t.Fatal("a second versitygw started on a taken port")
	}
	if !taken.proc.LostPort() {
		t.Fatalf("LostPort() = false after %v; output:\n%s", err, taken.proc.Output())
	}
}

// requestHeaders returns a client option that records the HTTP headers of
// each request the client sends.
func requestHeaders(into *[]http.Header) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("recordHeaders",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						*into = append(*into, req.Header.Clone())
					}
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// TestChecksumOnTheWire shows how the SDK sends a SHA-256 checksum to an
// http:// endpoint, so that TestChecksumSHA256's verdicts are about the
// x-amz-checksum-sha256 header: a precomputed ChecksumSHA256 goes as that
// header with a signed payload hash; ChecksumAlgorithm SHA256 alone makes
// the SDK compute it and send it the same way (no aws-chunked trailer over
// plain HTTP). Both are stored and returned by HeadObject.
func TestChecksumOnTheWire(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "bkt")
	var sent []http.Header
	c := s3.New(s.Client(t).Options(), requestHeaders(&sent))
	body := []byte("bundle bytes")
	sum := sha256b64(body)
	for _, in := range []*s3.PutObjectInput{
		{Key: aws.String("precomputed"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(sum)},
		{Key: aws.String("computed"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256},
	} {
		in.Bucket, in.Body, in.IfNoneMatch = aws.String("bkt"), bytes.NewReader(body), aws.String("*")
		sent = nil
		if _, err := c.PutObject(ctxT(t), in); err != nil {
			t.Fatalf("PutObject %s: %v", *in.Key, err)
		}
		h := sent[len(sent)-1]
		t.Logf("PutObject %s sent x-amz-checksum-sha256=%q x-amz-trailer=%q x-amz-content-sha256=%q content-encoding=%q if-none-match=%q",
			*in.Key, h.Get("X-Amz-Checksum-Sha256"), h.Get("X-Amz-Trailer"), h.Get("X-Amz-Content-Sha256"), h.Get("Content-Encoding"), h.Get("If-None-Match"))
		if h.Get("If-None-Match") != "*" {
			t.Errorf("PutObject %s: If-None-Match %q not sent", *in.Key, h.Get("If-None-Match"))
		}
		if h.Get("X-Amz-Checksum-Sha256") != sum || h.Get("X-Amz-Trailer") != "" {
			t.Errorf("PutObject %s: want x-amz-checksum-sha256 %q as a header and no trailer; headers %v", *in.Key, sum, h)
		}
		head, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: in.Key, ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(head.ChecksumSHA256); got != sum {
			t.Errorf("HeadObject %s: stored checksum %q, want %q", *in.Key, got, sum)
		}
	}
}

// TestKeepAlive: the server keeps a connection open between requests
// (--keep-alive): a client's second PutObject goes over the connection
// of the first.
func TestKeepAlive(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "keep")
	c := s.Client(t)
	var reused []bool
	trace := func(ctx context.Context) context.Context {
		return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
		})
	}
	for i := range 2 {
		if _, err := c.PutObject(trace(ctxT(t)), &s3.PutObjectInput{
			Bucket: aws.String("keep"), Key: aws.String(fmt.Sprint(i)), Body: bytes.NewReader([]byte("x")),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(reused) != 2 || reused[0] || !reused[1] {
		t.Fatalf("connections reused: %v, want [false true]", reused)
	}
}
