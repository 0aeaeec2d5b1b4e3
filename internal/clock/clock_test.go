package clock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	gowebpkijcs "github.com/gowebpki/jcs"
)

// script is a sequence of measurements handed out one per poll; the last
// one repeats.
type script struct {
	mu   sync.Mutex
	next []func() *ChronyData
}

func (s *script) measure() Measurement {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.next[0]
	if len(s.next) > 1 {
		s.next = s.next[1:]
	}
	m := Measurement{Chrony: f()}
	m.Taken = time.Now()
	return m
}

func freshSynced() *ChronyData {
	c := synced()
	c.RefTime = time.Now().Add(-time.Second)
	c.LastUpdateAgeNs, c.SinceSampleSec = int64(time.Second), 1
	return c
}

func noSource() *ChronyData {
	c := freshSynced()
	c.Selected = false
	return c
}

func largeDispersion() *ChronyData {
	c := freshSynced()
	c.RootDispersionNs = 400_000_000
	return c
}

type recorder struct {
	mu sync.Mutex
	ns []Notice
}

func (r *recorder) notify(n Notice) {
	r.mu.Lock()
	r.ns = append(r.ns, n)
	r.mu.Unlock()
}

func (r *recorder) notices() []Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notice(nil), r.ns...)
}

func TestPollerNotices(t *testing.T) {
	sc := &script{next: []func() *ChronyData{noSource, largeDispersion, freshSynced, freshSynced, noSource, freshSynced}}
	var rec recorder
	cfg := Config{PollInterval: 10 * time.Millisecond, PeriodicEvery: time.Minute, Notify: rec.notify}
	c, err := newClock(t.Context(), cfg, sc.measure)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.notices()) < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	after := len(rec.notices())
	time.Sleep(30 * time.Millisecond)
	ns := rec.notices()
	if len(ns) != after {
		t.Fatalf("Notify called after Close returned")
	}
	type want struct {
		prev, cur chain.ClockSyncStatus
		degraded  bool
	}
	wants := []want{
		{"", chain.Unreliable, false},
		{chain.Unreliable, chain.BestEffort, false},
		{chain.BestEffort, chain.NTPSynced, false},
		{chain.NTPSynced, chain.Unreliable, true},
		{chain.Unreliable, chain.NTPSynced, false},
	}
	if len(ns) != len(wants) {
		t.Fatalf("got %d notices, want %d: %+v", len(ns), len(wants), ns)
	}
	for i, w := range wants {
		n := ns[i]
		if !n.Changed || n.Periodic || n.Prev != w.prev || n.Snapshot.Status != w.cur || n.Degraded != w.degraded {
			t.Errorf("notice %d = {Changed %v Degraded %v Periodic %v Prev %q Status %q}, want prev %q status %q degraded %v",
				i, n.Changed, n.Degraded, n.Periodic, n.Prev, n.Snapshot.Status, w.prev, w.cur, w.degraded)
		}
		if i > 0 && n.Snapshot.Seq <= ns[i-1].Snapshot.Seq {
			t.Errorf("notice %d: snapshot seq %d not after %d", i, n.Snapshot.Seq, ns[i-1].Snapshot.Seq)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPollerPeriodic(t *testing.T) {
	sc := &script{next: []func() *ChronyData{freshSynced}}
	var rec recorder
	cfg := Config{PollInterval: 10 * time.Millisecond, PeriodicEvery: 50 * time.Millisecond, Notify: rec.notify}
	c, err := newClock(t.Context(), cfg, sc.measure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.notices()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	ns := rec.notices()
	if len(ns) < 3 || !ns[0].Changed || !ns[1].Periodic || !ns[2].Periodic || ns[1].Changed || ns[1].Degraded {
		t.Fatalf("notices: %+v", ns)
	}
	for i := 1; i < len(ns); i++ {
		if gap := ns[i].Snapshot.Taken.Sub(ns[i-1].Snapshot.Taken); gap < 50*time.Millisecond {
			t.Errorf("periodic notice %d only %v after the previous", i, gap)
		}
	}
}

func TestStamp(t *testing.T) {
	c, err := newClock(t.Context(), Config{}, (&script{next: []func() *ChronyData{freshSynced}}).measure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := time.Now().UnixNano()
	st := c.Stamp()
	after := time.Now().UnixNano()
	if st.TimeNs < before || st.TimeNs > after {
		t.Fatalf("TimeNs %d not in [%d, %d]", st.TimeNs, before, after)
	}
	want := chain.Clock{Source: "NTP", MaxErrorNs: "205000", SnapshotAgeMs: st.Clock.SnapshotAgeMs}
	if st.Status != chain.NTPSynced || st.Clock != want || st.Snapshot == nil || st.Clock.SnapshotAgeMs < 0 || st.Clock.SnapshotAgeMs > 1000 {
		t.Fatalf("Stamp = %+v", st)
	}
	if n := c.Now(); n < st.TimeNs {
		t.Fatalf("Now %d before an earlier stamp %d", n, st.TimeNs)
	}
}

// TestStampAgesIntoUnreliable: a snapshot older than MaxSnapshotAge (a
// stuck poller) is never passed off as current.
func TestStampAgesIntoUnreliable(t *testing.T) {
	th := Defaults()
	m := Measurement{Chrony: freshSynced(), Taken: time.Now().Add(-th.MaxSnapshotAge - time.Millisecond)}
	c := &Clock{maxAge: th.MaxSnapshotAge}
	c.cur.Store(newSnapshot(1, th, m, Derive(th, m, nil)))
	st := c.Stamp()
	if st.Status != chain.Unreliable || st.Snapshot.Status != chain.NTPSynced || st.Clock.SnapshotAgeMs < th.MaxSnapshotAge.Milliseconds() {
		t.Fatalf("Stamp = %+v", st)
	}
}

func TestNoSourceIsUnreliable(t *testing.T) {
	c, err := New(t.Context(), Config{Adjtimex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.Stamp()
	if st.Status != chain.Unreliable || st.Clock.Source != "SYSTEM" || st.Clock.MaxErrorNs != "" {
		t.Fatalf("Stamp = %+v", st)
	}
	if st.Snapshot.Adjtimex == nil {
		t.Fatal("no adjtimex evidence")
	}
}

func TestChronyUnreachable(t *testing.T) {
	// Port 9 on the loopback: nothing listens, the read fails with
	// ECONNREFUSED or times out.
	c, err := New(t.Context(), Config{Chrony: &ChronyConfig{Address: "127.0.0.1:9", Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Snapshot()
	if s.Status != chain.Unreliable || s.Chrony == nil || s.Chrony.Reachable || s.Chrony.Err == "" {
		t.Fatalf("snapshot = %+v", s)
	}
	t.Logf("reason: %s", s.Reason)
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	for i, cfg := range []Config{
		{PollInterval: time.Millisecond},
		{PollInterval: 2 * time.Second},
		{PeriodicEvery: 2 * time.Minute},
		{Chrony: &ChronyConfig{Address: "localhost"}},
		{Chrony: &ChronyConfig{Timeout: time.Minute}},
	} {
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("case %d: %v, want ErrConfig", i, err)
		}
	}
	th := Defaults()
	th.NTPMaxErrorNs = 5_000_000
	if err := (Config{Thresholds: th}).Validate(); !errors.Is(err, ErrThresholds) {
		t.Errorf("loose thresholds: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := New(ctx, Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("New with a done context: %v", err)
	}
}

// TestEvidenceCanonical: the SNC body canonicalizes with the chain's
// encoder, equals an independent JCS of encoding/json's output, and holds
// no JSON number that is not a small integer.
func TestEvidenceCanonical(t *testing.T) {
	th := Defaults()
	m := Measurement{Taken: t0, Chrony: synced(), PTP: locked(), Adjtimex: &AdjtimexData{Available: true, State: 5, Status: 0x40, MaxErrorUs: 16_000_000, EstErrorUs: 16_000_000}}
	s := newSnapshot(42, th, m, Derive(th, m, repeat(340, 10)))
	e := s.Evidence(string(chain.NTPSynced))
	got, err := chain.AppendCanonical(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := gowebpkijcs.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(ref) {
		t.Fatalf("AppendCanonical and gowebpki/jcs differ:\n%s\n%s", got, ref)
	}
	for _, want := range []string{
		`"RuleVersion":"fixtap-clock/1"`, `"Status":"PTP_LOCKED"`, `"PrevStatus":"NTP_SYNCED"`, `"MaxErrorNs":"340"`,
		`"RootDispersionNs":"100000"`, `"CurrentCorrectionNs":"-5000"`, `"RefID":"0A000001"`, `"GMIdentity":"001122.fffe.334455"`,
		`"MeasuredAtISO":"2026-11-21T12:00:00.000000000Z"`, `"Status":"0x40"`, `"Unsync":true`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("evidence lacks %s:\n%s", want, got)
		}
	}
	// Every JSON number must be a small integer (the rest are strings).
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case float64:
			if v != float64(int64(v)) || v > 1<<31 || v < -(1<<31) {
				t.Errorf("evidence holds the number %v", v)
			}
		}
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	walk(generic)
}

// BenchmarkStamp measures the per-event cost: one vDSO time read, one
// atomic load, a struct copy. Target ≤ 50 ns and 0 allocs.
func BenchmarkStamp(b *testing.B) {
	c, err := newClock(b.Context(), Config{}, (&script{next: []func() *ChronyData{freshSynced}}).measure)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	var sink Stamp
	for b.Loop() {
		sink = c.Stamp()
	}
	if sink.Snapshot == nil {
		b.Fatal("no snapshot")
	}
}

func BenchmarkStampParallel(b *testing.B) {
	c, err := newClock(b.Context(), Config{}, (&script{next: []func() *ChronyData{freshSynced}}).measure)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var sink Stamp
		for pb.Next() {
			sink = c.Stamp()
		}
		_ = sink
	})
}

// TestPollerPTPSustained: PTP_LOCKED only after PTPSamples consecutive good
// polls, and a poll where ptp4l cannot be asked starts the count again.
func TestPollerPTPSustained(t *testing.T) {
	var mu sync.Mutex
	n := 0
	measure := func() Measurement {
		mu.Lock()
		defer mu.Unlock()
		n++
		m := Measurement{Taken: time.Now(), PTP: locked()}
		if n == 15 {
			m.PTP = &PTPData{Err: "gone for one poll"}
		}
		return m
	}
	var rec recorder
	c, err := newClock(t.Context(), Config{PollInterval: 10 * time.Millisecond, Notify: rec.notify}, measure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.notices()) < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	var got []string
	for _, n := range rec.notices() {
		got = append(got, fmt.Sprintf("%d:%s", n.Snapshot.Seq, n.Snapshot.Status))
	}
	want := []string{"1:BEST_EFFORT", "10:PTP_LOCKED", "15:UNRELIABLE", "16:BEST_EFFORT", "25:PTP_LOCKED"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("notices %v, want %v", got, want)
	}
}

// BenchmarkTimeNow is the floor under BenchmarkStamp: one time.Now(),
// which reads CLOCK_REALTIME and CLOCK_MONOTONIC through the vDSO.
func BenchmarkTimeNow(b *testing.B) {
	var sink time.Time
	for b.Loop() {
		sink = time.Now()
	}
	_ = sink
}
