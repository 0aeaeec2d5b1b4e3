package tap

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// BenchmarkRecord is the tap's share of the session goroutine alone: what
// quickfix calls per inbound application message (the session log's
// OnIncoming, FromApp, then the store's IncrNextTargetMsgSeqNum), on
// messages quickfix already parsed, into a
// real chain log (unsigned, interval durability: its committer runs on
// another goroutine and is not what this measures). The messages are
// loadgen's stream, in sequence; quickfix's own parse is done in chunks
// outside the timer. Besides ns/op (wall, which includes waiting when the
// committer falls behind), it reports cpu-ns/op: the CPU time of the
// benchmark's own thread over the timed parts (GC assists included, the
// committer's and the GC workers' time not), robust to other processes on
// the machine.
//
//	go test -run '^$' -bench BenchmarkRecord -benchtime 200000x ./internal/tap
func BenchmarkRecord(b *testing.B) {
	_, tp := newBenchLogTap(b, chain.SyncInterval, false)
	id := benchSessionID(1)
	tp.OnCreate(id)
	slog, err := tp.Logs().CreateSessionLog(id)
	if err != nil {
		b.Fatal(err)
	}
	store, err := tp.Stores().Create(id)
	if err != nil {
		b.Fatal(err)
	}
	gen := loadgen.NewGenerator(1)
	const chunk = 1024
	raws := make([][]byte, chunk)
	msgs := make([]*quickfix.Message, chunk)
	seq := 0
	fill := func() {
		for i := range msgs {
			seq++
			raws[i] = frameFIX44(seq, gen.Next())
			msgs[i] = quickfix.NewMessage()
			if err := quickfix.ParseMessage(msgs[i], bytes.NewBuffer(raws[i])); err != nil {
				b.Fatal(err)
			}
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	t0 := threadCPU(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%chunk == 0 {
			b.StopTimer()
			cpu += threadCPU(b) - t0
			fill()
			t0 = threadCPU(b)
			b.StartTimer()
		}
		slog.OnIncoming(raws[i%chunk])
		if rej := tp.FromApp(msgs[i%chunk], id); rej != nil {
			b.Fatal(rej)
		}
		if err := store.IncrNextTargetMsgSeqNum(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu += threadCPU(b) - t0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if st := tp.Stats(); len(st) != 1 || st[0].Messages != uint64(b.N) || st[0].Gaps != 0 {
		b.Fatalf("stats %+v, want %d messages in sequence", st, b.N)
	}
}

// threadCPU is the CPU time of the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID); the caller locks its goroutine to the thread.
func threadCPU(b *testing.B) time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		b.Fatalf("clock_gettime(CLOCK_THREAD_CPUTIME_ID): %v", errno)
	}
	return time.Duration(ts.Nano())
}

// frameFIX44 frames body (tags after the standard header) as loadgen does:
// an ExecutionReport from BROKER1 to TAP with MsgSeqNum seq.
func frameFIX44(seq int, body []byte) []byte {
	b := []byte("35=8\x0134=" + strconv.Itoa(seq) + "\x0149=BROKER1\x0152=20261121-14:30:00.000\x0156=TAP\x01")
	b = append(b, body...)
	msg := fmt.Appendf(nil, "8=FIX.4.4\x019=%d\x01", len(b))
	msg = append(msg, b...)
	var sum uint
	for _, c := range msg {
		sum += uint(c)
	}
	return fmt.Appendf(msg, "10=%03d\x01", sum%256)
}
