package witness

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/cosign"
	"github.com/fixtap/fixtap/internal/seal"
)

func TestConfigValidate(t *testing.T) {
	key := testKey(t, "config")
	good := DefaultConfig(key.Verifier, clock.Wall)
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no log verifier": func(c *Config) { c.LogVerifier = nil },
		"no timeout":      func(c *Config) { c.Timeout = 0 },
		"no min backoff":  func(c *Config) { c.MinBackoff = 0 },
		"max < min":       func(c *Config) { c.MaxBackoff = c.MinBackoff - 1 },
		"no clock":        func(c *Config) { c.Now = nil },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "witness: config: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s := good.LogValue().String(); !strings.Contains(s, testOrigin) {
		t.Errorf("LogValue %s", s)
	}
}

func TestNewRefuses(t *testing.T) {
	key := testKey(t, "new")
	tp := openTap(t, "", key, 0)
	w := cosigner(t, "witness.test/w1")
	vk := w.Verifier().(interface{ String() string }).String()
	other := testKey(t, "other")
	for name, c := range map[string]struct{ policy, want string }{
		"quorum none":     {"witness w1 " + vk + " http://127.0.0.1:1/\nquorum none\n", "quorum none"},
		"no URL":          {"witness w1 " + vk + "\nquorum w1\n", "has no URL"},
		"another log key": {"log " + other.VerifierKey + "\nwitness w1 " + vk + " http://127.0.0.1:1/\nquorum w1\n", "not our key"},
	} {
		p, err := cosign.ParsePolicy(name, []byte(c.policy))
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig(key.Verifier, clock.Wall)
		if cs, err := New(context.Background(), tp.log, tp.seal, p, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			if cs != nil {
				cs.Shutdown(context.Background())
			}
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	// Our own key in the log line is accepted.
	p, _ := cosign.ParsePolicy("ok", []byte("log "+key.VerifierKey+"\nwitness w1 "+vk+" http://127.0.0.1:1/\nquorum w1\n"))
	cs, err := New(context.Background(), tp.log, tp.seal, p, DefaultConfig(key.Verifier, clock.Wall))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.LatestCheckpoint(); !errors.Is(err, seal.ErrNoCheckpoint) || !errors.Is(err, ErrNoCosigned) {
		t.Errorf("LatestCheckpoint before any: %v, want seal.ErrNoCheckpoint and ErrNoCosigned", err)
	}
}
