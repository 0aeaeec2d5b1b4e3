package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// Store is one S3-compatible object store holding a replica: AWS S3, Google
// Cloud Storage (XML API), Ceph RGW, MinIO, … — any service that honours
// If-None-Match: * on PutObject and the x-amz-checksum-sha256 header.
type Store struct {
	// Name identifies the store in receipts, state, events and logs. It
	// keys the store's state in Pebble (chain.PrefixReplica + the first 8
	// bytes of SHA-256(Name)), so renaming a store starts it over from
	// tree size 0 (every object already there is read back and found
	// equal).
	Name string
	// Endpoint is the service's base URL, "https://host[:port]".
	Endpoint string
	// Region signs requests (SigV4); "us-east-1" where the service has none.
	Region string
	Bucket string
	// Prefix is the key prefix of the replica ("" for the bucket's root),
	// without a leading or trailing "/": the checkpoint is Prefix+"/checkpoint".
	Prefix string
	// AccessKeyID and SecretAccessKey are static credentials (the tap's
	// configuration reads them from a file). Never logged.
	AccessKeyID, SecretAccessKey string
	// PathStyle addresses the bucket as Endpoint/Bucket/key rather than
	// Bucket.host/key (MinIO, Ceph RGW and most on-premises stores).
	PathStyle bool
}

// LogValue keeps the credentials out of logs.
func (s Store) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.String("endpoint", s.Endpoint),
		slog.String("region", s.Region),
		slog.String("bucket", s.Bucket),
		slog.String("prefix", s.Prefix),
		slog.Bool("path_style", s.PathStyle),
		slog.Bool("credentials", s.AccessKeyID != "" && s.SecretAccessKey != ""),
	)
}

// key returns the object key of a tlog-tiles path in the store.
func (s *Store) key(path string) string {
	if s.Prefix == "" {
		return path
	}
	return s.Prefix + "/" + path
}

// Config configures a Replicator. Start from DefaultConfig.
type Config struct {
	Stores []Store
	// Quorum is how many stores must hold a tree size completely
	// (checkpoint object included) for it to count as delivered:
	// 1 ≤ Quorum ≤ len(Stores).
	Quorum int
	// MinBackoff and MaxBackoff bound the exponential backoff, with
	// jitter, between rounds to a failing store.
	MinBackoff, MaxBackoff time.Duration
	// RoundTimeout bounds one step of a round (the uploads of at most
	// StepEntries entries, or the checkpoint): a store slower than that is
	// failing.
	RoundTimeout time.Duration
	// RequestTimeout bounds one request (a PUT, or a GET reading back).
	RequestTimeout time.Duration
	// StepEntries caps the entries whose bundles and tiles one step
	// uploads before the progress is stored, so a long backlog is caught up
	// in bounded steps and a crash repeats at most one. A multiple of 256.
	StepEntries int
	// Parallel is the number of uploads in flight per store.
	Parallel int
	// Now is fixtap's clock (internal/clock), for outage durations.
	Now func() time.Time
	// Logger receives the replicator's messages; nil means slog.Default().
	Logger *slog.Logger
	// OnFailure is called once per outage episode of a store (not per
	// retry), with the first error: the tap appends an ERR event. It must
	// not block.
	OnFailure func(store string, err error)
	// OnRecover is called when a failing store succeeds again, with how
	// long it was failing.
	OnRecover func(store string, down time.Duration)
	// OnAlarm is called when a store holds evidence that conflicts with
	// ours — an object with other bytes under one of our keys
	// (*ConflictError, after which the store is no longer written until
	// restart), or a checkpoint object inconsistent with what we delivered
	// (*CheckpointError). The tap appends a CRITICAL ERR event.
	OnAlarm func(store string, err error)
}

// DefaultConfig returns the defaults: quorum 1, backoff 1s–5min, 2min per
// step, 30s per request, steps of 65536 entries (256 entry bundles), 32
// uploads in flight per store — at 50k events/s a store receives about 600
// objects a second, and a PUT to a distant store takes tens of
// milliseconds, so uploads are latency-bound, not CPU-bound. Stores and
// Now must be set.
func DefaultConfig() Config {
	return Config{
		Quorum:         1,
		MinBackoff:     time.Second,
		MaxBackoff:     5 * time.Minute,
		RoundTimeout:   2 * time.Minute,
		RequestTimeout: 30 * time.Second,
		StepEntries:    1 << 16,
		Parallel:       32,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Stores) == 0 {
		errs = append(errs, errors.New("no stores"))
	}
	names := map[string]bool{}
	ids := map[[8]byte]string{}
	for i, s := range c.Stores {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("Stores[%d]: %w", i, err))
		}
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("Stores[%d]: name %q used twice", i, s.Name))
		}
		names[s.Name] = true
		if other, ok := ids[storeID(s.Name)]; ok && other != s.Name {
			errs = append(errs, fmt.Errorf("Stores[%d]: name %q has the store id of %q", i, s.Name, other))
		}
		ids[storeID(s.Name)] = s.Name
	}
	if c.Quorum < 1 || c.Quorum > len(c.Stores) {
		errs = append(errs, fmt.Errorf("Quorum %d: want 1 ≤ quorum ≤ %d stores", c.Quorum, len(c.Stores)))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff [%v, %v]: want 0 < min ≤ max", c.MinBackoff, c.MaxBackoff))
	}
	if c.RoundTimeout <= 0 {
		errs = append(errs, fmt.Errorf("RoundTimeout %v: want > 0", c.RoundTimeout))
	}
	if c.RequestTimeout <= 0 || c.RequestTimeout > c.RoundTimeout {
		errs = append(errs, fmt.Errorf("RequestTimeout %v: want 0 < timeout ≤ RoundTimeout", c.RequestTimeout))
	}
	if c.StepEntries < bundleWidth || c.StepEntries%bundleWidth != 0 {
		errs = append(errs, fmt.Errorf("StepEntries %d: want a positive multiple of %d", c.StepEntries, bundleWidth))
	}
	if c.Parallel < 1 || c.Parallel > 256 {
		errs = append(errs, fmt.Errorf("Parallel %d: want 1–256", c.Parallel))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("Now is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replica: config: %w", err)
	}
	return nil
}

func (s *Store) validate() error {
	var errs []error
	if s.Name == "" || len(s.Name) > 64 || strings.ContainsFunc(s.Name, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
		errs = append(errs, fmt.Errorf("name %q: want 1–64 printable characters, no spaces", s.Name))
	}
	if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		errs = append(errs, fmt.Errorf("endpoint %q: want http(s)://host[:port]", s.Endpoint))
	}
	if s.Region == "" {
		errs = append(errs, errors.New("region is empty"))
	}
	if s.Bucket == "" {
		errs = append(errs, errors.New("bucket is empty"))
	}
	if strings.HasPrefix(s.Prefix, "/") || strings.HasSuffix(s.Prefix, "/") || strings.Contains(s.Prefix, "//") {
		errs = append(errs, fmt.Errorf("prefix %q: want no leading, trailing or double \"/\"", s.Prefix))
	}
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		errs = append(errs, errors.New("credentials are missing"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store %q: %w", s.Name, err)
	}
	return nil
}

// LogValue keeps credentials out of logs.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Int("quorum", c.Quorum),
		slog.Duration("min_backoff", c.MinBackoff),
		slog.Duration("max_backoff", c.MaxBackoff),
		slog.Duration("round_timeout", c.RoundTimeout),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Int("step_entries", c.StepEntries),
		slog.Int("parallel", c.Parallel),
	}
	for i, s := range c.Stores {
		attrs = append(attrs, slog.Any(fmt.Sprintf("store%d", i+1), s))
	}
	return slog.GroupValue(attrs...)
}
