package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fixtap/fixtap/internal/clock"
)

type options struct {
	short bool
	count int
	only  string
	fill  int
	work  string
}

func (o options) want(group string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), group)
}

// spec is one invocation of a test binary: a -test.bench pattern with its
// -test.benchtime, full and -short.
type spec struct {
	group string // for -only
	bin   string // test binary: "tap", "seal" or "verify"
	bench string
	full  string
	short string
	env   []string // full run; -short replaces it by shortEnv
	senv  []string
}

// The specs. internal/tap's run round-robin (one process per run); the
// others once with -test.count N. Message counts: 1–3 s of work per run at
// the rates measured on the development VM (latency: 3 s at 1k and 10k
// ER/s, 2 s at 30k); the default FileStore (an fsync per message, ~5k
// msgs/s) gets fewer.
var (
	tapSpecs = []spec{
		{group: "tap", bin: "tap", bench: "^BenchmarkQuickfixReference$", full: "100000x", short: "3000x"},
		{group: "tap", bin: "tap", bench: "^BenchmarkQuickfixFileStore$/^nosync$", full: "100000x", short: "3000x"},
		{group: "tap", bin: "tap", bench: "^BenchmarkQuickfixFileStore$/^default$", full: "20000x", short: "1000x"},
		{group: "tap", bin: "tap", bench: "^BenchmarkTapOneSession$", full: "60000x", short: "3000x"},
		{group: "tap", bin: "tap", bench: "^BenchmarkTapEightSessions$", full: "80000x", short: "4000x"},
		// Latency: max(b.N, rate/2) messages, so 1x is half a second.
		{group: "latency", bin: "tap", bench: "^BenchmarkQuickfixReferenceLatency$/^1k$", full: "3000x", short: "1x"},
		{group: "latency", bin: "tap", bench: "^BenchmarkTapLatency$/^1k$", full: "3000x", short: "1x"},
		{group: "latency", bin: "tap", bench: "^BenchmarkQuickfixReferenceLatency$/^10k$", full: "30000x", short: "1x"},
		{group: "latency", bin: "tap", bench: "^BenchmarkTapLatency$/^10k$", full: "30000x", short: "1x"},
		{group: "latency", bin: "tap", bench: "^BenchmarkQuickfixReferenceLatency$/^30k$", full: "60000x", short: "1x"},
		{group: "latency", bin: "tap", bench: "^BenchmarkTapLatency$/^30k$", full: "60000x", short: "1x"},
	}
	onceSpecs = []spec{
		// Each builds and compacts a 1M-leaf tree first (a few seconds).
		{group: "seal", bin: "seal", bench: "^BenchmarkRoot1M$", full: "1000x", short: "10x"},
		{group: "seal", bin: "seal", bench: "^BenchmarkInclusionProof$", full: "10000x", short: "100x"},
		// One op is one checkpoint wait under 50k events/s offered, ~0.5 s.
		{group: "seal", bin: "seal", bench: "^BenchmarkCheckpointLag$", full: "16x", short: "2x"},
		// The bundle is built once per process (1M events: ~1 min).
		{group: "verify", bin: "verify", bench: "^BenchmarkVerify$", full: "1x", short: "1x",
			env: []string{"FIXTAP_VERIFY_BENCH_EVENTS=1000000"}, senv: []string{"FIXTAP_VERIFY_BENCH_EVENTS=20000"}},
	}
)

// results: benchmark name (without the -GOMAXPROCS suffix) → unit → one
// value per run.
type results map[string]map[string][]float64

func (r results) add(name, unit string, v float64) {
	if r[name] == nil {
		r[name] = map[string][]float64{}
	}
	r[name][unit] = append(r[name][unit], v)
}

// parseBench reads `go test -bench` output lines:
//
//	BenchmarkName/sub-2   100000   27700 ns/op   27.7 ER/s ...
func parseBench(out []byte, r results) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.add(name, f[i+1], v)
		}
		n++
	}
	return n
}

// runner runs the built binaries in the work directory and logs progress.
type runner struct {
	o       options
	work    string
	log     io.Writer
	started time.Time
}

func (rn *runner) logf(format string, a ...any) {
	fmt.Fprintf(rn.log, "[%4.0fs] %s\n", clock.Wall().Sub(rn.started).Seconds(), fmt.Sprintf(format, a...))
}

func (rn *runner) command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = rn.work
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN=local", "TMPDIR="+rn.work)
	return cmd
}

// build compiles the fixtap binary and the test binaries.
func (rn *runner) build(ctx context.Context, root string) error {
	steps := [][]string{
		{"build", "-o", filepath.Join(rn.work, "fixtap"), "./cmd/fixtap"},
		{"test", "-c", "-o", filepath.Join(rn.work, "tap.test"), "./internal/tap"},
		{"test", "-c", "-o", filepath.Join(rn.work, "seal.test"), "./internal/seal"},
		{"test", "-c", "-o", filepath.Join(rn.work, "verify.test"), "./internal/verify"},
	}
	for _, s := range steps {
		rn.logf("go %s", strings.Join(s, " "))
		cmd := rn.command(ctx, nil, "go", s...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// bench runs one spec count times in one process and adds its results.
func (rn *runner) bench(ctx context.Context, s spec, count int, r results) error {
	bt, env := s.full, s.env
	if rn.o.short {
		bt, env = s.short, s.senv
	}
	args := []string{"-test.run", "^$", "-test.bench", s.bench, "-test.benchtime", bt,
		"-test.count", strconv.Itoa(count), "-test.timeout", "20m"}
	if !rn.o.short {
		settle(ctx)
	}
	rn.logf("%s.test %s %s", s.bin, strings.Join(args, " "), strings.Join(env, " "))
	cmd := rn.command(ctx, env, filepath.Join(rn.work, s.bin+".test"), args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			rn.logf("  %s", strings.Join(strings.Fields(l), " "))
		}
	}
	if err != nil {
		return fmt.Errorf("%s.test -test.bench %s: %w\n%s", s.bin, s.bench, err, out.String())
	}
	if parseBench(out.Bytes(), r) == 0 {
		return fmt.Errorf("%s.test -test.bench %s: no benchmark results\n%s", s.bin, s.bench, out.String())
	}
	return nil
}

// moduleRoot is the directory of go.mod, from `go env GOMOD`.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the fixtap module: run from its checkout")
	}
	return filepath.Dir(mod), nil
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	rn := &runner{o: o, log: stderr, started: clock.Wall()}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "fixtap-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
		rn.o.work = dir
	} else if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	rn.work = o.work
	m := describeMachine()
	m.loadBefore = loadavg()
	if err := rn.build(ctx, root); err != nil {
		return err
	}
	r := results{}
	var tap []spec
	for _, s := range tapSpecs {
		if o.want(s.group) {
			tap = append(tap, s)
		}
	}
	for i := range o.count {
		if len(tap) > 0 {
			rn.logf("round %d of %d: internal/tap, references and fixtap", i+1, o.count)
		}
		for _, s := range tap {
			if err := rn.bench(ctx, s, 1, r); err != nil {
				return err
			}
		}
	}
	for _, s := range onceSpecs {
		if o.want(s.group) {
			if err := rn.bench(ctx, s, o.count, r); err != nil {
				return err
			}
		}
	}
	var mem []memResult
	if o.want("memory") {
		if mem, err = rn.memory(ctx); err != nil {
			return err
		}
	}
	m.loadAfter = loadavg()
	m.elapsed = clock.Wall().Sub(rn.started)
	rn.logf("done")
	writeReport(stdout, o, m, r, mem)
	return nil
}

// machine describes where the figures come from.
type machine struct {
	cpu, kernel, goVersion, date string
	cpus                         int
	memGiB                       float64
	loadBefore, loadAfter        string
	elapsed                      time.Duration
}

func describeMachine() machine {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version(),
		date: clock.Wall().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if kb, ok := procField("/proc/meminfo", "MemTotal"); ok {
		m.memGiB = float64(kb) / (1 << 20)
	}
	return m
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

// procField reads a "Key:   value kB" line of a /proc file, in kB.
func procField(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
