package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
cpu: AMD EPYC
BenchmarkTapOneSession/interval/signed-2         	  100000	     36101 ns/op	     27700 ER/s
BenchmarkTapOneSession/interval/signed-2         	  100000	     35000 ns/op	     28571 ER/s
BenchmarkVerify/signatures-2 1 380322125 ns/op 36.51 cpu-µs/event 52588 events/s 26294 events/s/core
BenchmarkBroken-2 notanumber 1 ns/op
--- FAIL: BenchmarkX
PASS
`
	r := results{}
	if n := parseBench([]byte(out), r); n != 3 {
		t.Fatalf("parsed %d lines, want 3", n)
	}
	if got := r["BenchmarkTapOneSession/interval/signed"]["ER/s"]; !slices.Equal(got, []float64{27700, 28571}) {
		t.Errorf("ER/s runs %v", got)
	}
	if got := r["BenchmarkVerify/signatures"]["events/s/core"]; !slices.Equal(got, []float64{26294}) {
		t.Errorf("events/s/core %v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The report judges targets only in a full run, and says which were missed.
func TestReportTargets(t *testing.T) {
	r := results{}
	r.add(bRefMem, "ER/s", 80000)
	r.add(bRefFile, "ER/s", 4000)
	r.add(bTap1+"interval/signed", "ER/s", 28000)
	r.add(bTap1+"group/signed", "ER/s", 27000)
	var full, short bytes.Buffer
	writeReport(&full, options{count: 1}, machine{}, r, []memResult{{name: "empty", steadyMiB: 180}})
	writeReport(&short, options{count: 1, short: true}, machine{}, r, nil)
	for _, want := range []string{
		"| 2. fixtap, 1 session, interval (5 ms), signed | **28.0k** | 0.35× | 7.00× | ≥ 50.0k | **not met** |",
		"| 2. fixtap, 1 session, fsync per group, signed | **27.0k** | 0.34× | 6.75× | ≥ 10.0k | met |",
		"- steady RSS, 8 sessions at 20k ER/s, data dir empty (steady ≤ 256 MiB): met",
	} {
		if !strings.Contains(full.String(), want) {
			t.Errorf("full report lacks %q:\n%s", want, full.String())
		}
	}
	if strings.Contains(short.String(), "met |") || !strings.Contains(short.String(), "not judged (-short)") {
		t.Errorf("-short report judges targets:\n%s", short.String())
	}
}
