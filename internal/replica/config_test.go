package replica

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	cfg := DefaultConfig()
	cfg.Now = time.Now
	cfg.Stores = []Store{
		{Name: "aws-eu", Endpoint: "https://s3.eu-west-1.amazonaws.com", Region: "eu-west-1", Bucket: "b1", Prefix: "tap-1", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "s3cr3t-value-1"},
		{Name: "ceph-dc2", Endpoint: "http://rgw.dc2.example.net:7480", Region: "us-east-1", Bucket: "b2", AccessKeyID: "AK2", SecretAccessKey: "s3cr3t-value-2", PathStyle: true},
	}
	cfg.Quorum = 2
	return cfg
}

func TestConfigValidate(t *testing.T) {
	cfg := validConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    func(*Config)
		want string
	}{
		{"no stores", func(c *Config) { c.Stores = nil }, "no stores"},
		{"quorum", func(c *Config) { c.Quorum = 3 }, "Quorum 3"},
		{"quorum 0", func(c *Config) { c.Quorum = 0 }, "Quorum 0"},
		{"dup name", func(c *Config) { c.Stores[1].Name = "aws-eu" }, "used twice"},
		{"endpoint", func(c *Config) { c.Stores[0].Endpoint = "s3.amazonaws.com" }, "endpoint"},
		{"endpoint path", func(c *Config) { c.Stores[0].Endpoint = "https://h/bucket" }, "endpoint"},
		{"prefix", func(c *Config) { c.Stores[0].Prefix = "/tap" }, "prefix"},
		{"bucket", func(c *Config) { c.Stores[0].Bucket = "" }, "bucket"},
		{"region", func(c *Config) { c.Stores[0].Region = "" }, "region"},
		{"credentials", func(c *Config) { c.Stores[1].SecretAccessKey = "" }, "credentials"},
		{"name", func(c *Config) { c.Stores[1].Name = "a b" }, "name"},
		{"backoff", func(c *Config) { c.MaxBackoff = c.MinBackoff / 2 }, "backoff"},
		{"step", func(c *Config) { c.StepEntries = 1000 }, "StepEntries"},
		{"parallel", func(c *Config) { c.Parallel = 0 }, "Parallel"},
		{"request timeout", func(c *Config) { c.RequestTimeout = c.RoundTimeout + 1 }, "RequestTimeout"},
		{"now", func(c *Config) { c.Now = nil }, "Now"},
	} {
		c := validConfig()
		tc.f(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "replica: config: ") {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// TestConfigLogValue: no secret reaches a log.
func TestConfigLogValue(t *testing.T) {
	cfg := validConfig()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "config", cfg, "store", cfg.Stores[0])
	out := buf.String()
	for _, s := range cfg.Stores {
		if strings.Contains(out, s.SecretAccessKey) || strings.Contains(out, s.AccessKeyID) {
			t.Fatalf("credentials logged: %s", out)
		}
	}
	if !strings.Contains(out, "ceph-dc2") || !strings.Contains(out, "rgw.dc2.example.net") {
		t.Fatalf("log lacks the stores: %s", out)
	}
}

func TestWidthAndPaths(t *testing.T) {
	for _, tc := range []struct {
		k, m uint64
		w    uint8
	}{{0, 1, 1}, {0, 256, 0}, {0, 300, 0}, {1, 300, 44}, {3, 1024, 0}, {4, 1025, 1}} {
		if got := width(tc.k, tc.m); got != tc.w {
			t.Errorf("width(%d, %d) = %d, want %d", tc.k, tc.m, got, tc.w)
		}
	}
	if got := EventsPath(1234067, 8); got != "fixtap/events/x001/x234/067.p/8" {
		t.Errorf("EventsPath = %s", got)
	}
	s := Store{Prefix: "tap-1"}
	if s.key("checkpoint") != "tap-1/checkpoint" || (&Store{}).key("checkpoint") != "checkpoint" {
		t.Error("key")
	}
}
