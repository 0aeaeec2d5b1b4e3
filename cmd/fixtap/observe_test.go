package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// scrape fetches and parses base/metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
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
		t.Fatal(err)
	}
	return mf
}

// metric is the value of name's series (a counter, gauge or histogram's
// count), of the one whose label has that value when label is set.
func metric(mf map[string]*dto.MetricFamily, name, label, value string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
	for _, m := range f.Metric {
		ok := label == ""
		for _, l := range m.Label {
			ok = ok || (l.GetName() == label && l.GetValue() == value)
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunMetrics serves a tap with MetricsAddress set, streams a drop copy
// into it with loadgen and scrapes /metrics twice while it streams: the
// session's and the chain's metrics move. /healthz and /readyz answer 200
// while it runs, and the status page renders.
func TestRunMetrics(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port)
	base := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, bytes.Replace(b, []byte("\n[SESSION]"), []byte("MetricsAddress="+base+"\n\n[SESSION]"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	base = "http://" + base
	f, err := tapconfig.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var out, errb lockedBuffer
	ready := make(chan struct{})
	go func() {
		done <- serve(ctx, f, slog.New(slog.NewJSONHandler(&errb, nil)), &out, serveOptions{Ready: ready})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := httpGet(t, base+p); code != 200 {
			t.Fatalf("%s: %d %q", p, code, body)
		}
	}

	const count = 30000
	lg := make(chan error, 1)
	var st loadgen.Stats
	go func() {
		var err error
		st, err = loadgen.Run(context.Background(), loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port),
			BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP", Count: count, Rate: 5000,
			ResetSeqNum: true, Seed: 13, Now: clock.Wall})
		lg <- err
	}()
	const session = "FIX.4.4:TAP->BROKER"
	type point struct{ messages, lastIn, appended, durable, commits float64 }
	read := func() point {
		mf := scrape(t, base)
		return point{
			messages: metric(mf, "fixtap_session_messages_total", "session", session),
			lastIn:   metric(mf, "fixtap_session_last_msgseqnum_in", "session", session),
			appended: metric(mf, "fixtap_chain_appended_total", "", ""),
			durable:  metric(mf, "fixtap_chain_durable_watermark", "", ""),
			commits:  metric(mf, "fixtap_chain_commit_latency_seconds", "", ""),
		}
	}
	// Two scrapes while loadgen streams, the first once messages arrive.
	var first, second point
	for deadline := clock.Wall().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if first = read(); first.messages > 0 || clock.Wall().After(deadline) {
			break
		}
	}
	time.Sleep(time.Second)
	second = read()
	select {
	case err := <-lg:
		t.Fatalf("loadgen finished (%v) before the second scrape: make it stream longer", err)
	default:
	}
	t.Logf("scrapes while streaming: %+v then %+v", first, second)
	if first.messages <= 0 || second.messages <= first.messages || second.lastIn <= first.lastIn {
		t.Errorf("session metrics did not move: %+v then %+v", first, second)
	}
	if first.appended <= 0 || second.appended <= first.appended || second.durable <= first.durable || second.commits <= first.commits {
		t.Errorf("chain metrics did not move: %+v then %+v", first, second)
	}
	mf := scrape(t, base)
	if v := metric(mf, "fixtap_session_logged_on", "session", session); v != 1 {
		t.Errorf("fixtap_session_logged_on = %v while streaming", v)
	}
	for _, name := range []string{"fixtap_clock_snapshot_age_seconds", "fixtap_seal_tree_size", "fixtap_seal_checkpoint_size", "fixtap_seal_checkpoint_age_seconds", "fixtap_ready"} {
		if metric(mf, name, "", "") < 0 {
			t.Errorf("%s missing", name)
		}
	}
	code, page := httpGet(t, base+"/")
	if code != 200 || !strings.Contains(page, html.EscapeString(session)) || !strings.Contains(page, "Newest checkpoint") {
		t.Errorf("status page %d:\n%s", code, page)
	}
	if err := <-lg; err != nil {
		t.Fatalf("loadgen: %v\n%s", err, errb.String())
	}
	if st.Sent != count {
		t.Fatalf("loadgen sent %d of %d", st.Sent, count)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("metrics still served after serve returned")
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogFileReopen: logrotate moves the log away and sends SIGHUP; the
// records before it stay in the moved file, those after go to a new file
// at the configured path. The signal is a value on reopenOnHUP's channel,
// as signal.Notify delivers it.
func TestLogFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fixtap.log")
	logger, lf, err := openLogs(&tapconfig.TapSettings{LogFile: path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	hup := make(chan os.Signal)
	stop := reopenOnHUP(hup, lf, logger)
	logger.Info("before rotation", "session", "FIX.4.4:TAP->BROKER")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	logger.Info("still the old file") // written before the signal: follows the moved file
	hup <- syscall.SIGHUP             // unbuffered: received, the reopen follows at once
	for deadline := clock.Wall().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil || clock.Wall().After(deadline) {
			break
		}
	}
	logger.Info("after rotation")
	stop()
	old, _ := os.ReadFile(path + ".1")
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(old, []byte(`"msg":"before rotation","session":"FIX.4.4:TAP->BROKER"`)) || !bytes.Contains(old, []byte("still the old file")) ||
		bytes.Contains(old, []byte("after rotation")) {
		t.Errorf("rotated file:\n%s", old)
	}
	if !bytes.Contains(cur, []byte("after rotation")) || !bytes.Contains(cur, []byte("SIGHUP: log file reopened")) || bytes.Contains(cur, []byte("before rotation")) {
		t.Errorf("new file:\n%s", cur)
	}
	// A failed reopen keeps the old file.
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	os.Remove(path)
	if err := lf.Reopen(); err == nil && os.Geteuid() != 0 {
		t.Error("reopen in a read-only directory succeeded")
	}
	if _, err := lf.Write([]byte("{}\n")); err != nil {
		t.Errorf("write after a failed reopen: %v", err)
	}
}
