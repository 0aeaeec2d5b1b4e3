package monitor

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/fixtap/fixtap/internal/cosign"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("monitor: bad config")

// Config configures a Monitor. Zero fields take the defaults below.
type Config struct {
	// Replicas are the base URLs of the replicas of one log, each the
	// prefix under which tlog-tiles objects live: virtual-hosted
	// "https://bucket.s3.example/prefix/" or path-style
	// "http://127.0.0.1:9000/bucket/prefix/". A missing trailing "/" is
	// added. At least one; two or more for the agreement check to mean
	// anything.
	Replicas []string
	// LogKey verifies the log's checkpoint signature (the tap's
	// checkpoint note verifier key). Required.
	LogKey note.Verifier
	// Origin is the checkpoint origin line required; default LogKey.Name()
	// (fixtap names its checkpoint key after the origin).
	Origin string
	// Policy, when set, is the witness policy every checkpoint's
	// cosignatures must satisfy, and the source of cosignature timestamps
	// for the cadence check.
	Policy *cosign.Policy
	// StatePath is the state file (the last verified checkpoint, what is
	// known of each replica); "" keeps the state in memory only.
	StatePath string
	// MaxAge: a replica whose newest checkpoint is older than this fails
	// the cadence check. Default 1 h (the tier's "at least hourly").
	MaxAge time.Duration
	// Windows are the trading windows of the silence check; none, no
	// silence check.
	Windows []Window
	// Silence: during a window, no FIX-derived event for longer than this
	// fails the silence check. Default 5 min.
	Silence time.Duration
	// SilenceIgnore lists event types (Header.EventType) that do not count
	// as FIX activity even though made from FIX messages, e.g. "HBT" to
	// treat a session that only exchanges heartbeats as silent.
	SilenceIgnore []string
	// Interval is the time between rounds (Start). Default 1 min.
	Interval time.Duration
	// Full makes the first round check every entry, tile and event of
	// every replica from index 0 (tessera fsck's coverage, plus events).
	// Otherwise a monitor without state trusts the history below the first
	// checkpoint's last bundle, and the sweep re-checks it over time.
	Full bool
	// SweepBundles is how many already-verified entry bundles per replica
	// and round are checked again, cycling through the whole log, so that
	// later damage (a flipped byte, a deleted tile) is found. Default 16;
	// negative turns the sweep off.
	SweepBundles int
	// MaxBundles caps the new entry bundles checked per replica and round
	// (a monitor that was down catches up over several rounds). Default 4096.
	MaxBundles int
	// ScanBack caps how many entry bundles a monitor without state reads
	// backwards to find the newest FIX-derived event. Default 1024.
	ScanBack int
	// SigV4, when set, signs every GET (private buckets).
	SigV4 *SigV4
	// HTTPClient; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the wall clock (clock.Wall in cmd/fixtap). Required.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultMaxAge       = time.Hour
	DefaultSilence      = 5 * time.Minute
	DefaultInterval     = time.Minute
	DefaultSweepBundles = 16
	DefaultMaxBundles   = 4096
	DefaultScanBack     = 1024
)

func (c Config) withDefaults() Config {
	if c.Origin == "" && c.LogKey != nil {
		c.Origin = c.LogKey.Name()
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Silence == 0 {
		c.Silence = DefaultSilence
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.SweepBundles == 0 {
		c.SweepBundles = DefaultSweepBundles
	}
	if c.MaxBundles == 0 {
		c.MaxBundles = DefaultMaxBundles
	}
	if c.ScanBack == 0 {
		c.ScanBack = DefaultScanBack
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	rs := make([]string, len(c.Replicas))
	for i, r := range c.Replicas {
		if !strings.HasSuffix(r, "/") {
			r += "/"
		}
		rs[i] = r
	}
	c.Replicas = rs
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Replicas) == 0 {
		return fmt.Errorf("%w: no replica URL", ErrConfig)
	}
	seen := map[string]bool{}
	for _, r := range c.Replicas {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("%w: replica %q: %v", ErrConfig, redactURL(r), err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: replica %q: want an http:// or https:// URL with a host", ErrConfig, redactURL(r))
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("%w: replica %q: no user information, query or fragment (use SigV4 for credentials)", ErrConfig, redactURL(r))
		}
		if seen[r] {
			return fmt.Errorf("%w: replica %q listed twice", ErrConfig, r)
		}
		seen[r] = true
	}
	if c.LogKey == nil {
		return fmt.Errorf("%w: no log key", ErrConfig)
	}
	if c.Now == nil {
		return fmt.Errorf("%w: no clock (Now)", ErrConfig)
	}
	if c.MaxAge < time.Second {
		return fmt.Errorf("%w: MaxAge %v: want at least 1s", ErrConfig, c.MaxAge)
	}
	if c.Silence < time.Second {
		return fmt.Errorf("%w: Silence %v: want at least 1s", ErrConfig, c.Silence)
	}
	if c.Interval < time.Second {
		return fmt.Errorf("%w: Interval %v: want at least 1s", ErrConfig, c.Interval)
	}
	if c.MaxBundles < 1 || c.ScanBack < 1 {
		return fmt.Errorf("%w: MaxBundles %d, ScanBack %d: want at least 1", ErrConfig, c.MaxBundles, c.ScanBack)
	}
	for _, w := range c.Windows {
		if w.loc == nil {
			return fmt.Errorf("%w: a window not made by ParseWindow", ErrConfig)
		}
	}
	for _, t := range c.SilenceIgnore {
		if t == "" || strings.ToUpper(t) != t || len(t) > 8 {
			return fmt.Errorf("%w: SilenceIgnore %q: want a VCP event type such as HBT", ErrConfig, t)
		}
	}
	return nil
}

// LogValue shows the configuration without secrets.
func (c Config) LogValue() slog.Value {
	rs := make([]string, len(c.Replicas))
	for i, r := range c.Replicas {
		rs[i] = redactURL(r)
	}
	ws := make([]string, len(c.Windows))
	for i, w := range c.Windows {
		ws[i] = w.String()
	}
	policy := "none"
	if c.Policy != nil {
		policy = c.Policy.File() + " (quorum " + c.Policy.Quorum() + ")"
	}
	key := ""
	if c.LogKey != nil {
		key = fmt.Sprintf("%s+%08x", c.LogKey.Name(), c.LogKey.KeyHash())
	}
	return slog.GroupValue(
		slog.Any("replicas", rs), slog.String("origin", c.Origin), slog.String("log_key", key),
		slog.String("witness_policy", policy), slog.String("state", c.StatePath),
		slog.Duration("max_age", c.MaxAge), slog.Any("windows", ws), slog.Duration("silence", c.Silence),
		slog.Any("silence_ignore", c.SilenceIgnore), slog.Duration("interval", c.Interval),
		slog.Bool("full", c.Full), slog.Int("sweep_bundles", c.SweepBundles), slog.Any("sigv4", c.SigV4))
}
