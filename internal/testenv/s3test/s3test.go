// Package s3test runs a real S3-compatible server for integration tests:
// versitygw v1.8.0 (pinned in tools/go.mod, installed by
// `go -C tools install tool`) with its POSIX backend in t.TempDir(),
// listening on a loopback port, keeping connections alive between requests
// (--keep-alive) as S3 services do (TestKeepAlive).
//
// An object key k in bucket b is the plain file Dir/b/k (ObjectFile), so a
// test can tamper with a stored object behind the server's back; object
// metadata (ETag, checksums, content type) lives in that file's user
// extended attributes.
//
// versitygw's POSIX backend never calls fsync: an object acknowledged by a
// PUT may be lost if the machine crashes. That is fine for tests, which kill
// processes but not kernels, and is a reason not to run it as a production
// replica store.
//
// What versitygw v1.8.0 does, as established by this package's tests (see
// s3test_test.go, which fail if it changes):
//   - PutObject with If-None-Match: * creates the object, and answers
//     412 PreconditionFailed when the key exists, leaving it unchanged.
//   - PutObject with x-amz-checksum-sha256 verifies the body against it,
//     echoes it in the response and stores it (HeadObject/GetObject with
//     ChecksumMode ENABLED return it); a wrong value is rejected with 400
//     BadDigest and nothing is stored. Over http:// the SDK sends the
//     checksum as that header (never an aws-chunked trailer), whether
//     given (ChecksumSHA256) or computed (ChecksumAlgorithm SHA256 alone).
//   - Both together, the replicator's request, on an existing key: 412.
//   - Before MakePublicRead an anonymous GET is 403 AccessDenied; after
//     it objects are readable by plain anonymous HTTP GET and HEAD at
//     URL(bucket, prefix)+key (a missing key is 404); anonymous PUT and
//     ListObjectsV2 stay 403.
//   - Responses carry ETag (on objects: the quoted hex MD5 of the body),
//     x-amz-request-id and Date (and x-amz-id-2, Last-Modified on GET).
//     x-amz-request-id and x-amz-id-2 are sent twice with the same value,
//     so http.Header.Get works but Values has two entries.
//   - A tampered ObjectFile is served as is (no check on read); the SDK's
//     GetObject with ChecksumMode ENABLED detects it for objects stored
//     with a SHA-256 checksum. A removed ObjectFile is 404 NoSuchKey.
//   - Bucket names follow S3 rules (3–63 characters).
package s3test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/fixtap/fixtap/internal/testenv"
	"github.com/fixtap/fixtap/internal/testenv/testproc"
)

// Tool is the executable Start runs, found by testenv.RequireGoTool.
const Tool = "versitygw"

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 30 * time.Second

// healthPath is versitygw's --health endpoint: GET answers 200 once the
// gateway serves requests.
const healthPath = "/fixtap-health"

// Server is a running versitygw. Its fields are fixed for its lifetime,
// across Stop and Restart.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	Region    string // "us-east-1"
	AccessKey string // the root user's access key
	SecretKey string // the root user's secret key
	Dir       string // the POSIX backend root: bucket b is Dir/b

	path string // the versitygw executable
	port int
	addr string // 127.0.0.1:PORT
	proc *testproc.Proc
}

// Start starts versitygw on a free loopback port with its POSIX backend in a
// new t.TempDir(), and returns once it answers HTTP. The server is stopped,
// by PID, in t.Cleanup. A missing versitygw skips the test (fails it under
// FIXTAP_REQUIRE_INTEGRATION=1).
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		Region:    "us-east-1",
		AccessKey: "fixtaptestaccess",
		SecretKey: "fixtaptestsecret0123456789",
		Dir:       t.TempDir(),
		path:      testenv.RequireGoTool(t, Tool),
	}
	// FreePort's port may be taken before versitygw binds it; then try
	// another.
	for attempt := 1; ; attempt++ {
		s.port = testproc.FreePort(t)
		s.addr = testproc.HostPort(s.port)
		s.Endpoint = "http://" + s.addr
		err := s.start(t)
		if err == nil {
			return s
		}
		if !s.proc.LostPort() || attempt == 3 {
			t.Fatalf("s3test: %s (pid %d) did not start: %v\n%s", Tool, s.proc.PID(), err, s.proc.Output())
		}
		t.Logf("s3test: port %s taken before %s bound it; retrying", s.addr, Tool)
	}
}

// start runs versitygw on s.addr and waits until it answers.
func (s *Server) start(t testing.TB) error {
	t.Helper()
	s.proc = testproc.Start(t, testproc.Cmd{
		Name: Tool,
		Path: s.path,
		Args: []string{
			"--port", s.addr,
			"--access", s.AccessKey,
			"--secret", s.SecretKey,
			"--region", s.Region,
			"--health", healthPath,
			// Keep connections open between requests, as S3 services do;
			// without it versitygw closes each after one answer and every
			// request pays a new TCP connection (client and server side).
			"--keep-alive",
			"posix", s.Dir,
		},
	})
	if err := s.proc.AwaitListener(s.port, startTimeout); err != nil {
		return err
	}
	return s.proc.AwaitHTTP(s.Endpoint+healthPath, startTimeout, func(r *http.Response) bool {
		return r.StatusCode == http.StatusOK
	})
}

// PID returns the process ID of the running server.
func (s *Server) PID() int { return s.proc.PID() }

// Stop stops the server by PID: SIGTERM, then SIGKILL after a grace period;
// it returns when the process is gone. Objects stay in Dir.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.proc.Stop(t)
}

// Restart stops the server if it runs and starts a new one on the same port
// over the same Dir, with the same credentials, for outage tests.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.start(t); err != nil {
		t.Fatalf("s3test: restarting %s on %s (pid %d): %v\n%s", Tool, s.addr, s.proc.PID(), err, s.proc.Output())
	}
}

// Client returns an aws-sdk-go-v2 S3 client for the server: static root
// credentials, path-style addressing, BaseEndpoint = Endpoint, and the SDK's
// defaults otherwise (retries, request checksums when supported).
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// CreateBucket creates the bucket, failing the test on error.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %q: %v", name, err)
	}
}

// PublicReadPolicy is the bucket policy MakePublicRead installs: anyone
// may GetObject any key of the bucket; nothing else is granted (no listing,
// no writes).
func PublicReadPolicy(bucket string) string {
	p := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid":       "FixtapPublicRead",
			"Effect":    "Allow",
			"Principal": "*",
			"Action":    []string{"s3:GetObject"},
			"Resource":  []string{"arn:aws:s3:::" + bucket + "/*"},
		}},
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return string(b)
}

// MakePublicRead lets anonymous clients GET the bucket's objects over plain
// HTTP (at URL(bucket, prefix)+key), with the bucket policy
// PublicReadPolicy. versitygw v1.8.0 grants anonymous access by a bucket
// policy with Principal "*" or by a public ACL
// (auth.VerifyPublicAccess); the policy is used here because it grants
// exactly s3:GetObject (and so HEAD) and nothing else, as on AWS.
func (s *Server) MakePublicRead(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
		Bucket: aws.String(bucket),
		Policy: aws.String(PublicReadPolicy(bucket)),
	}); err != nil {
		t.Fatalf("s3test: public-read policy on %q: %v", bucket, err)
	}
}

// URL returns the HTTP base URL of the objects under bucket/prefix,
// path-style and ending in "/": Endpoint + "/bucket/" or
// Endpoint + "/bucket/prefix/". prefix is used as given, without a leading
// or trailing "/".
func (s *Server) URL(bucket, prefix string) string {
	u := s.Endpoint + "/" + bucket + "/"
	if prefix != "" {
		u += prefix + "/"
	}
	return u
}

// ObjectFile returns the file that holds the object bucket/key in the POSIX
// backend. Tamper tests may flip a byte in it or remove it; the server reads
// it afresh on each GET.
func (s *Server) ObjectFile(bucket, key string) string {
	return filepath.Join(s.Dir, bucket, filepath.FromSlash(key))
}

// ReadObjectFile returns the bytes of ObjectFile(bucket, key), failing the
// test if it cannot be read.
func (s *Server) ReadObjectFile(t testing.TB, bucket, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(s.ObjectFile(bucket, key))
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return b
}

// String describes the server for messages.
func (s *Server) String() string {
	return fmt.Sprintf("versitygw at %s (dir %s)", s.Endpoint, s.Dir)
}
