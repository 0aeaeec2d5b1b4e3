package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/seal"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Scrape fetches url's /metrics and parses it.
func Scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return mf
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// value is the value of the series of name whose labels include want
// (name=value pairs); ok false when absent.
func value(mf map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := mf[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestServer: a log, a clock, a sealer and a TSA's history behind the
// endpoint; the metrics, health, readiness and status page report them.
func TestServer(t *testing.T) {
	ctx := context.Background()
	lc := chain.DefaultConfig(t.TempDir())
	lc.Logger, lc.Now = quiet(), clock.Wall
	l, err := chain.Open(ctx, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	clk, err := clock.New(ctx, clock.Config{Adjtimex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer clk.Close()
	key, _, err := seal.GenerateKey(strings.NewReader(strings.Repeat("k", 64)), "test")
	if err != nil {
		t.Fatal(err)
	}
	sc := seal.DefaultConfig("fixtap/test", key)
	sc.Logger = quiet()
	ss := NewSealState(clock.Wall)
	sc.OnCheckpoint = ss.OnCheckpoint
	sl, err := seal.New(ctx, l, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	const tsa = "https://user:secret@tsa.example/ts"
	if err := ss.Attach(sl, []string{tsa}); err != nil {
		t.Fatal(err)
	}
	ss.OnFailure(tsa, errors.New("refused"))

	srv := New(Config{Log: l, Clock: clk, Seal: ss, Logger: quiet()})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.Addr().String()
	defer srv.Shutdown(ctx)

	if code, body := get(t, url+"/healthz"); code != 200 {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, body := get(t, url+"/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("/readyz before SetReady: %d %q", code, body)
	}
	srv.SetReady(true)
	if code, body := get(t, url+"/readyz"); code != 200 {
		t.Errorf("/readyz after SetReady: %d %q", code, body)
	}
	mf := Scrape(t, url)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"fixtap_chain_appended_total", nil, 0},
		{"fixtap_chain_durable_watermark", nil, 0},
		{"fixtap_chain_stopped", nil, 0},
		{"fixtap_chain_commit_latency_seconds", nil, -1},
		{"fixtap_clock_status", []string{"status", string(clk.Snapshot().Status)}, 1},
		{"fixtap_clock_snapshot_age_seconds", nil, -1},
		{"fixtap_seal_tree_size", nil, 0},
		{"fixtap_seal_anchor_failing", []string{"tsa", "https://user:xxxxx@tsa.example/ts"}, 1},
		{"fixtap_seal_anchor_failures_total", []string{"tsa", "https://user:xxxxx@tsa.example/ts"}, 1},
		{"fixtap_ready", nil, 1},
		{"go_goroutines", nil, -1},
	} {
		v, ok := value(mf, c.name, c.labels...)
		if !ok || (c.want >= 0 && v != c.want) {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if _, ok := value(mf, "fixtap_seal_anchor_age_seconds"); ok {
		t.Error("an anchor age before any anchor")
	}
	// An anchor ends the failure episode and sets the age.
	ss.OnAnchor(&seal.AnchorRecord{Timestamp: clock.Wall().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		AnchorTarget: seal.AnchorTarget{Identifier: tsa}})
	mf = Scrape(t, url)
	if v, ok := value(mf, "fixtap_seal_anchor_age_seconds"); !ok || v < 59 || v > 120 {
		t.Errorf("anchor age %v (present %v), want about 60 s", v, ok)
	}
	if v, _ := value(mf, "fixtap_seal_anchor_failing"); v != 0 {
		t.Errorf("still failing after an anchor")
	}
	code, body := get(t, url+"/")
	if code != 200 {
		t.Fatalf("status page %d", code)
	}
	for _, want := range []string{"<h1>fixtap</h1>", "no session has connected yet", string(clk.Snapshot().Status), "Anchor https://user:xxxxx@tsa.example/ts"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "<script") {
		t.Errorf("status page shows a password or a script:\n%s", body)
	}
	srv.SetReady(false)
	if code, _ := get(t, url+"/readyz"); code != 503 {
		t.Errorf("/readyz after SetReady(false): %d", code)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after Shutdown")
	}
}

// TestHandlerWithoutSources: every source nil (as in a test) still serves.
func TestHandlerWithoutSources(t *testing.T) {
	srv := New(Config{Logger: quiet()})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	srv.SetReady(true)
	for _, p := range []string{"/healthz", "/readyz", "/", "/metrics"} {
		if code, body := get(t, ts.URL+p); code != 200 {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
	if code, _ := get(t, ts.URL+"/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

type fakeXRef struct{}

func (fakeXRef) Watermark() uint64                { return 1234 }
func (fakeXRef) Totals() (uint64, uint64, uint64) { return 10, 2, 1 }

// TestXRefMetrics: the reconciler's watermark and totals, read at scrape
// time; absent without a reconciler.
func TestXRefMetrics(t *testing.T) {
	srv := httptest.NewServer(New(Config{XRef: fakeXRef{}, Logger: quiet()}).Handler())
	defer srv.Close()
	mf := Scrape(t, srv.URL)
	for _, c := range []struct {
		name  string
		label []string
		want  float64
	}{
		{"fixtap_xref_reconciled_watermark", nil, 1234},
		{"fixtap_xref_outcomes_total", []string{"status", "MATCHED"}, 10},
		{"fixtap_xref_outcomes_total", []string{"status", "DISCREPANCY"}, 2},
		{"fixtap_xref_outcomes_total", []string{"status", "TIMEOUT"}, 1},
	} {
		if v, ok := value(mf, c.name, c.label...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.label, v, ok, c.want)
		}
	}
	srv2 := httptest.NewServer(New(Config{Logger: quiet()}).Handler())
	defer srv2.Close()
	if _, ok := Scrape(t, srv2.URL)["fixtap_xref_outcomes_total"]; ok {
		t.Error("xref metrics without a reconciler")
	}
}
