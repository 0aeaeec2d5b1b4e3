package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// The memory scenario: a real `fixtap run` child with 8 acceptor sessions
// (fsync per group, signing on), 8 loadgen senders in this process at 20k
// ER/s in all; its RSS read from /proc/<pid>/status every memSample.
const (
	memSessions = 8
	memRate     = 20_000 // ER/s, all sessions together
	memSample   = 200 * time.Millisecond
)

// memResult is one memory run.
type memResult struct {
	name    string
	stored  uint64        // events in the log before the load (the fill)
	sent    int           // application messages sent under load
	load    time.Duration // how long the load ran
	openMiB float64       // VmRSS when the sessions were up, before the load
	// steadyMiB is the median VmRSS over the second half of the load;
	// peakMiB is VmHWM (the high-water mark) when the load ended.
	steadyMiB, peakMiB float64
	fillRate           float64 // events/s of the fill
	startup            time.Duration
}

// memory runs the scenario twice: on an empty data dir, and on one that
// already holds o.fill events.
func (rn *runner) memory(ctx context.Context) ([]memResult, error) {
	load := 30 * time.Second
	if rn.o.short {
		load = 3 * time.Second
	}
	a, err := rn.memRun(ctx, "empty", 0, load)
	if err != nil {
		return nil, err
	}
	b, err := rn.memRun(ctx, "filled", rn.o.fill, load/2)
	if err != nil {
		return nil, err
	}
	return []memResult{a, b}, nil
}

func (rn *runner) memRun(ctx context.Context, name string, fill int, load time.Duration) (memResult, error) {
	res := memResult{name: name, load: load}
	dir := filepath.Join(rn.work, "mem-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	fixtap := filepath.Join(rn.work, "fixtap")
	key := filepath.Join(dir, "tap.key")
	if out, err := rn.command(ctx, nil, fixtap, "keygen", "-out", key).CombinedOutput(); err != nil {
		return res, fmt.Errorf("fixtap keygen: %w\n%s", err, out)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	if err := os.WriteFile(filepath.Join(dir, "account.secret"), secret, 0o600); err != nil {
		return res, err
	}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[DEFAULT]\nDataDir=%s\nSigningKeyFile=%s\nAccountSecretFile=%s\nDurability=group\nTier=SILVER\n"+
		"PolicyID=bench.fixtap:default\nPolicyIssuer=fixtap-bench\nClockSources=adjtimex\nConnectionType=acceptor\n"+
		"SocketAcceptHost=127.0.0.1\nSocketAcceptPort=%d\nHeartBtInt=30\nStartTime=00:00:00\nEndTime=00:00:00\n",
		filepath.Join(dir, "data"), key, filepath.Join(dir, "account.secret"), port)
	for i := 1; i <= memSessions; i++ {
		fmt.Fprintf(&cfg, "\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=TAP\nTargetCompID=BROKER%d\n", i)
	}
	cfgPath := filepath.Join(dir, "tap.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return res, err
	}
	if fill > 0 {
		rn.logf("memory/%s: storing %d events through internal/chain (signed with the tap's key)", name, fill)
		t0 := clock.Wall()
		if err := fillLog(ctx, filepath.Join(dir, "data"), key, fill); err != nil {
			return res, err
		}
		res.stored = uint64(fill)
		res.fillRate = float64(fill) / clock.Wall().Sub(t0).Seconds()
		rn.logf("memory/%s: stored at %.0f events/s", name, res.fillRate)
	}

	rn.logf("memory/%s: fixtap run, %d sessions", name, memSessions)
	t0 := clock.Wall()
	cmd := rn.command(ctx, nil, fixtap, "run", "-config", cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	stderr, err := os.Create(filepath.Join(rn.work, "fixtap-run-"+name+".log"))
	if err != nil {
		return res, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "sessions up") {
				ok = true
				up <- true
			}
		}
		if !ok {
			up <- false
		}
		exited <- cmd.Wait()
	}()
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("fixtap run did not stop within 2 minutes of SIGTERM")
		}
	}
	select {
	case ok := <-up:
		if !ok {
			<-exited
			return res, fmt.Errorf("fixtap run exited before its sessions were up (log: %s)", stderr.Name())
		}
	case <-time.After(10 * time.Minute):
		stop()
		return res, fmt.Errorf("fixtap run: sessions not up within 10 minutes")
	}
	res.startup = clock.Wall().Sub(t0)
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	time.Sleep(time.Second)
	if kb, ok := procField(status, "VmRSS"); ok {
		res.openMiB = float64(kb) / 1024
	}

	var (
		mu      sync.Mutex
		samples []float64 // VmRSS in MiB, during the second half of the load
	)
	loadStart := clock.Wall()
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(memSample)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-t.C:
			}
			if clock.Wall().Sub(loadStart) < load/2 {
				continue
			}
			if kb, ok := procField(status, "VmRSS"); ok {
				mu.Lock()
				samples = append(samples, float64(kb)/1024)
				mu.Unlock()
			}
		}
	}()
	per := memRate / memSessions
	count := int(float64(per) * load.Seconds())
	rn.logf("memory/%s: %d senders at %d ER/s each for %v", name, memSessions, per, load)
	errs := make([]error, memSessions)
	var wg sync.WaitGroup
	for i := 1; i <= memSessions; i++ {
		wg.Go(func() {
			st, err := loadgen.Run(ctx, loadgen.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), BeginString: "FIX.4.4",
				SenderCompID: fmt.Sprintf("BROKER%d", i), TargetCompID: "TAP", Count: count, Rate: per,
				ResetSeqNum: true, Seed: uint64(i), Now: clock.Wall})
			if err == nil && st.Sent != count {
				err = fmt.Errorf("sent %d of %d", st.Sent, count)
			}
			errs[i-1] = err
		})
	}
	wg.Wait()
	res.load = clock.Wall().Sub(loadStart)
	close(sampling)
	<-sampled
	if kb, ok := procField(status, "VmHWM"); ok {
		res.peakMiB = float64(kb) / 1024
	}
	if err := stop(); err != nil {
		return res, fmt.Errorf("fixtap run: %w (log: %s)", err, stderr.Name())
	}
	for i, err := range errs {
		if err != nil {
			return res, fmt.Errorf("loadgen BROKER%d: %w", i+1, err)
		}
	}
	res.sent = count * memSessions
	if len(samples) == 0 {
		return res, fmt.Errorf("memory/%s: no RSS samples", name)
	}
	res.steadyMiB = median(samples)
	rn.logf("memory/%s: open %.0f MiB, steady %.0f MiB, peak %.0f MiB", name, res.openMiB, res.steadyMiB, res.peakMiB)
	return res, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// fillLog appends n execution-report events (~1 KB of canonical JSON and
// ~250 bytes of raw FIX each, the shape the tap stores) to a new log in dir,
// signed with the key file, durable every 5 ms, and waits until all are
// durable and signed. Their session is one the tap is not configured with.
func fillLog(ctx context.Context, dir, keyFile string, n int) error {
	priv, err := chain.LoadPrivateKeyFile(keyFile)
	if err != nil {
		return err
	}
	cfg := chain.DefaultConfig(dir)
	cfg.Durability = chain.SyncInterval
	cfg.Signer = chain.NewSigner(priv)
	cfg.Logger = slog.New(slog.DiscardHandler)
	l, err := chain.Open(ctx, cfg)
	if err != nil {
		return err
	}
	ids := chain.NewIDGen()
	base := clock.Wall().Add(-24 * time.Hour).UnixNano()
	e := &chain.Entry{
		Header: chain.Header{TraceID: "01934e3a-6a1b-7c82-9d1b-0987654321dc", EventType: chain.PRT, EventTypeCode: 5,
			TimestampPrecision: chain.PrecisionNanosecond, ClockSyncStatus: chain.NTPSynced, HashAlgo: chain.HashAlgoSHA256,
			VenueID: "XTST", Symbol: "ACME", AccountID: "acc_0123456789abcdef"},
		Payload: chain.Payload{
			Clock: &chain.Clock{Source: "NTP", MaxErrorNs: "250000", SnapshotAgeMs: 412},
			FIX: &chain.FIX{BeginString: "FIX.4.4", SessionID: "FIX.4.4:TAP->FILL", MsgType: "8",
				SendingTime: "20261121-10:40:00.000", RawSHA256: "8f2a1234567890ab8f2a1234567890ab8f2a1234567890ab8f2a1234567890ab"},
			Trade: &chain.Trade{ExecType: "F", OrdStatus: "1", Side: "BUY", OrderType: "LIMIT", Price: "123.4567", Quantity: "1000",
				ExecutionPrice: "123.4560", ExecutedQty: "100", CumQty: "100", RemainingQty: "900", Currency: "USD",
				TransactTime: "20261121-10:40:00.000"},
			PolicyIdentification: &chain.PolicyIdentification{Version: chain.VCPVersion, PolicyID: "bench.fixtap:default", ConformanceTier: "SILVER",
				RegistrationPolicy: chain.RegistrationPolicy{Issuer: "fixtap-bench"},
				VerificationDepth:  chain.VerificationDepth{HashChainValidation: true, MerkleProofRequired: true, ExternalAnchorRequired: true}},
		},
	}
	raw := make([]byte, 0, 320)
	for i := range n {
		ts := base + int64(i)*1000
		e.Header.EventID = ids.New(ts).String()
		e.Header.TimestampInt = strconv.FormatInt(ts, 10)
		e.Header.TimestampISO = time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z")
		e.Payload.FIX.MsgSeqNum = int64(i + 1)
		e.Payload.Trade.OrderID = "ORD-" + strconv.Itoa(i/4)
		e.Payload.Trade.ClOrdID = "CL-" + strconv.Itoa(i/4)
		e.Payload.Trade.ExecID = "EX-" + strconv.Itoa(i)
		raw = fmt.Appendf(raw[:0], "8=FIX.4.4\x019=200\x0135=8\x0134=%d\x0149=FILL\x0156=TAP\x0152=20261121-10:40:00.000\x0137=%s\x0111=%s\x0117=%s\x01150=F\x0139=1\x0155=ACME\x0154=1\x0138=1000\x0144=123.4567\x0131=123.4560\x0132=100\x01151=900\x0114=100\x016=123.4560\x0160=20261121-10:40:00.000\x0110=000\x01",
			i+1, e.Payload.Trade.OrderID, e.Payload.Trade.ClOrdID, e.Payload.Trade.ExecID)
		e.Raw = raw
		if err := l.Append(ctx, e); err != nil {
			l.Close()
			return err
		}
	}
	if err := l.WaitSigned(ctx, uint64(n)); err != nil {
		l.Close()
		return err
	}
	if err := l.Sync(ctx); err != nil {
		l.Close()
		return err
	}
	return l.Close()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
