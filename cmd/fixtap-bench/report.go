package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Benchmark names as parseBench keys them.
const (
	bRefMem    = "BenchmarkQuickfixReference"
	bRefNoSync = "BenchmarkQuickfixFileStore/nosync"
	bRefFile   = "BenchmarkQuickfixFileStore/default"
	bTap1      = "BenchmarkTapOneSession/"
	bTap8      = "BenchmarkTapEightSessions"
	bTapLat    = "BenchmarkTapLatency/"
	bRefLat    = "BenchmarkQuickfixReferenceLatency/"
	bRoot      = "BenchmarkRoot1M"
	bProof     = "BenchmarkInclusionProof"
	bLag       = "BenchmarkCheckpointLag"
	bVerify    = "BenchmarkVerify/"
)

type report struct {
	w   io.Writer
	o   options
	r   results
	met []string // one line per target
}

// med is the median of a benchmark's unit over its runs, and the runs.
func (rp *report) med(name, unit string) (float64, []float64, bool) {
	v := rp.r[name][unit]
	if len(v) == 0 {
		return 0, nil, false
	}
	return median(v), v, true
}

// judge records a target as met or not, and returns the table's cell.
func (rp *report) judge(what string, ok bool, target string) string {
	if rp.o.short {
		return target + " | not judged (-short)"
	}
	verdict := "met"
	if !ok {
		verdict = "**not met**"
	}
	rp.met = append(rp.met, fmt.Sprintf("- %s (%s): %s", what, target, verdict))
	return target + " | " + verdict
}

func num(v float64) string {
	switch {
	case v >= 1_000_000:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 100_000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func runs(v []float64, f func(float64) string) string {
	if len(v) < 2 {
		return ""
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = f(x)
	}
	return " (" + strings.Join(s, ", ") + ")"
}

func ratio(a, b float64, okA, okB bool) string {
	if !okA || !okB || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func writeReport(w io.Writer, o options, m machine, r results, mem []memResult) {
	rp := &report{w: w, o: o, r: r}
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	mode := fmt.Sprintf("median of %d runs (runs in brackets)", o.count)
	if o.short {
		mode = "-short: one run, few events; checks the harness, not the speed"
	}
	p("`fixtap-bench` %s, %s.", m.date, mode)
	p("")
	p("Machine: %s, %d CPUs, %.0f GiB, Linux %s, %s. Load average before: %s; after: %s. Took %v.",
		m.cpu, m.cpus, m.memGiB, m.kernel, m.goVersion, m.loadBefore, m.loadAfter, m.elapsed.Round(time.Second))

	refMem, _, okMem := rp.med(bRefMem, "ER/s")
	refFile, _, okFile := rp.med(bRefFile, "ER/s")
	if len(r[bRefMem]) > 0 || len(r[bTap8]) > 0 {
		p("")
		p("Throughput: one loadgen session per FIX session, maximum rate, over loopback; ER/s from the first send until the last message is received (references) or its event durable and, when signing, signed (fixtap).")
		p("")
		p("| scenario | ER/s (median) | × memory-store acceptor | × default FileStore | target | |")
		p("|---|---|---|---|---|---|")
		row := func(label, name string, target func(float64) (string, string, bool)) {
			v, all, ok := rp.med(name, "ER/s")
			if !ok {
				return
			}
			t := " | "
			if target != nil {
				what, tgt, met := target(v)
				t = rp.judge(what, met, tgt)
			}
			p("| %s | **%s**%s | %s | %s | %s |", label, num(v), runs(all, num), ratio(v, refMem, ok, okMem), ratio(v, refFile, ok, okFile), t)
		}
		ge := func(what string, min float64) func(float64) (string, string, bool) {
			return func(v float64) (string, string, bool) { return what, "≥ " + num(min), v >= min }
		}
		row("1. quickfixgo acceptor, memory store, null log", bRefMem, nil)
		row("1. quickfixgo acceptor, FileStore, FileStoreSync=N", bRefNoSync, nil)
		row("1. quickfixgo acceptor, default FileStore (fsync per message)", bRefFile, nil)
		row("2. fixtap, 1 session, interval (5 ms), signed", bTap1+"interval/signed", ge("one session, interval durability, signed", 50_000))
		row("2. fixtap, 1 session, interval (5 ms), unsigned", bTap1+"interval/unsigned", nil)
		row("2. fixtap, 1 session, fsync per group, signed", bTap1+"group/signed", ge("one session, fsync per group, signed", 10_000))
		row("2. fixtap, 1 session, fsync per group, unsigned", bTap1+"group/unsigned", nil)
		row("3. fixtap, 8 sessions aggregate, fsync per group, signed", bTap8, ge("8 sessions aggregate, signed", 40_000))
	}

	if len(r[bTapLat+"10k"]) > 0 {
		p("")
		p("4. Latency at fixed rates, one session: from loadgen framing the message to its event durable (fixtap: fsync per group, signed; signatures not awaited) or to `FromApp` (plain acceptor, memory store); ms.")
		p("")
		p("| rate | fixtap p50 | p99 | p999 | acceptor p50 | p99 | p999 | fixtap p99 ÷ acceptor p99 | target | |")
		p("|---|---|---|---|---|---|---|---|---|---|")
		for _, rate := range []string{"1k", "10k", "30k"} {
			t, ref := bTapLat+rate, bRefLat+rate
			t50, _, _ := rp.med(t, "p50-ms")
			t99, all99, ok := rp.med(t, "p99-ms")
			t999, _, _ := rp.med(t, "p999-ms")
			r50, _, _ := rp.med(ref, "p50-ms")
			r99, rall99, okR := rp.med(ref, "p99-ms")
			r999, _, _ := rp.med(ref, "p999-ms")
			if !ok {
				continue
			}
			tgt := " | "
			if rate == "10k" {
				tgt = rp.judge("p99 wire → durable at 10k ER/s", t99 <= 5, "p99 ≤ 5 ms")
			}
			if sent, _, ok := rp.med(t, "sent-ER/s"); ok && sent < 0.95*float64(map[string]int{"1k": 1000, "10k": 10000, "30k": 30000}[rate]) {
				rate += fmt.Sprintf(" (sent %s/s)", num(sent))
			}
			p("| %s | %s | **%s**%s | %s | %s | %s%s | %s | %s | %s |", rate, num(t50), num(t99), runs(all99, num), num(t999),
				num(r50), num(r99), runs(rall99, num), num(r999), ratio(t99, r99, ok, okR), tgt)
		}
	}

	if len(r[bRoot]) > 0 || len(r[bLag]) > 0 {
		p("")
		p("5. Seal (`internal/seal`): a tree of 2^20 = 1,048,576 leaves stored in Pebble; the checkpoint lag is from observing the durable watermark to a signed checkpoint covering it, with events appended at 50k/s and the default 500 ms checkpoint interval.")
		p("")
		p("| what | median | |")
		p("|---|---|---|")
		if v, all, ok := rp.med(bRoot, "build-s"); ok {
			p("| hash and store the 1M-leaf tree | %.1f s%s | |", v, runs(all, func(x float64) string { return fmt.Sprintf("%.1f", x) }))
		}
		if v, all, ok := rp.med(bRoot, "ns/op"); ok {
			us := func(x float64) string { return num(x / 1000) }
			p("| root of the 1M tree from stored hashes | %s µs%s | |", us(v), runs(all, us))
		}
		if v, all, ok := rp.med(bProof, "p50-µs"); ok {
			v99, all99, _ := rp.med(bProof, "p99-µs")
			p("| inclusion proof, random leaf and size ≤ 1M | p50 %s µs%s, p99 %s µs%s | |", num(v), runs(all, num), num(v99), runs(all99, num))
		}
		if v, all, ok := rp.med(bLag, "p50-µs"); ok {
			v99, all99, _ := rp.med(bLag, "p99-µs")
			ev, _, _ := rp.med(bLag, "events/s")
			ms := func(x float64) string { return num(x / 1000) }
			p("| checkpoint lag under %s events/s | p50 %s ms%s, p99 %s ms%s | |", num(ev), ms(v), runs(all, ms), ms(v99), runs(all99, ms))
		}
	}

	if len(r[bVerify+"signatures"]) > 0 {
		p("")
		p("6. Verify (`internal/verify`): a synthetic full bundle of %s execution-report events, both cores.", map[bool]string{true: "20,000", false: "1,000,000"}[o.short])
		p("")
		p("| verify | events/s | per core | CPU µs/event | target | |")
		p("|---|---|---|---|---|---|")
		for _, c := range []struct{ sub, label string }{{"signatures", "everything, signatures included"}, {"hashes-chain-tree", "hashes, chain and tree (signatures skipped)"}} {
			n := bVerify + c.sub
			ev, all, ok := rp.med(n, "events/s")
			if !ok {
				continue
			}
			pc, _, _ := rp.med(n, "events/s/core")
			cpu, _, _ := rp.med(n, "cpu-µs/event")
			t := " | "
			if c.sub == "signatures" {
				t = rp.judge("verify with signatures, per core", pc >= 25_000, "≥ 25k/core")
			}
			p("| %s | **%s**%s | %s | %.1f | %s |", c.label, num(ev), runs(all, num), num(pc), cpu, t)
		}
	}

	if len(mem) > 0 {
		p("")
		p("7. Memory of a real `fixtap run` process (8 acceptor sessions, fsync per group, signing on, the indexer and sealer running), 8 loadgen senders at %s ER/s in all; RSS from /proc/<pid>/status: at start (sessions up), steady (median VmRSS over the second half of the load), peak (VmHWM).", num(memRate))
		p("")
		p("| data dir | start | steady | peak | target | |")
		p("|---|---|---|---|---|---|")
		for _, m := range mem {
			label := "empty"
			if m.stored > 0 {
				label = fmt.Sprintf("holding %s events (stored through internal/chain at %s events/s, signed; `fixtap run` up in %v)",
					num(float64(m.stored)), num(m.fillRate), m.startup.Round(100*time.Millisecond))
			}
			label += fmt.Sprintf("; %s messages over %v", num(float64(m.sent)), m.load.Round(100*time.Millisecond))
			t := rp.judge("steady RSS, 8 sessions at 20k ER/s, data dir "+m.name, m.steadyMiB <= 256, "steady ≤ 256 MiB")
			p("| %s | %.0f MiB | **%.0f MiB** | %.0f MiB | %s |", label, m.openMiB, m.steadyMiB, m.peakMiB, t)
		}
	}

	if len(rp.met) > 0 {
		p("")
		p("Targets:")
		p("")
		for _, l := range rp.met {
			p("%s", l)
		}
	}
}
