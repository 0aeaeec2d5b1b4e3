package tap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/testenv"
)

// TestInteropQuickFIXCpp drives the tap with an independent FIX engine:
// testdata/interop/interop_initiator.cpp, compiled here against Debian's
// libquickfix-dev (QuickFIX C++ 1.15.1). The engine logs on, sends 1,000
// execution reports of every kind, drops the TCP connection mid-stream
// without a Logout, sends more while offline (its FileStore keeps them with
// increasing MsgSeqNums), reconnects with a Logon whose MsgSeqNum is too
// high, answers the tap's ResendRequest from its store with PossDupFlag=Y,
// sends the rest and logs out.
//
// Afterwards the log holds exactly one event per inbound MsgSeqNum, the
// chain verifies and links, and a proxy between the engine and the tap saw
// the tap send nothing but session-level messages (passivity).
func TestInteropQuickFIXCpp(t *testing.T) {
	gxx := testenv.RequireTool(t, "g++")
	pkgConfig := testenv.RequireTool(t, "pkg-config")
	if out, err := exec.Command(pkgConfig, "--exists", "quickfix").CombinedOutput(); err != nil {
		testenv.Skip(t, "pkg-config knows no quickfix (Debian's libquickfix-dev): %v %s", err, out)
	}
	flags, err := exec.Command(pkgConfig, "--cflags", "--libs", "quickfix").Output()
	if err != nil {
		t.Fatalf("pkg-config --cflags --libs quickfix: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const (
		total   = 1000 // execution reports in all
		cut     = 400  // sent before the connection drops
		offline = 150  // sent while disconnected: the gap the engine resends
	)

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "interop_initiator")
	args := append([]string{"-std=c++14", "-O0", "-w", "-o", bin, filepath.Join("testdata", "interop", "interop_initiator.cpp")},
		strings.Fields(string(flags))...)
	args = append(args, "-pthread")
	began := time.Now()
	if out, err := exec.CommandContext(ctx, gxx, args...).CombinedOutput(); err != nil {
		t.Fatalf("compile the QuickFIX C++ initiator: %v\n%s", err, out)
	}
	t.Logf("compiled the QuickFIX C++ initiator in %v", time.Since(began).Round(time.Millisecond))

	tapPort := freePort(t)
	h := startTap(t, t.TempDir(), tapPort)
	stopped := false
	defer func() {
		if !stopped {
			h.stop(t)
		}
	}()
	px := startProxy(t, tapPort)
	defer px.close()

	tmpl, err := os.ReadFile(filepath.Join("testdata", "interop", "initiator.cfg.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(tmp, "initiator.cfg")
	text := strings.NewReplacer("@PORT@", strconv.Itoa(px.port), "@STORE@", filepath.Join(tmp, "store")).Replace(string(tmpl))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	runCtx, runCancel := context.WithTimeout(ctx, 60*time.Second)
	defer runCancel()
	began = time.Now()
	cmd := exec.CommandContext(runCtx, bin, cfg, strconv.Itoa(total), strconv.Itoa(cut), strconv.Itoa(offline))
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	t.Logf("QuickFIX C++ initiator (%v):\n%s", time.Since(began).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("QuickFIX C++ initiator: %v", err)
	}
	sum := parseSummary(t, string(out))
	if sum["sent"] != total || sum["resendRequests"] < 1 || sum["possDup"] < offline {
		t.Fatalf("initiator summary %v: want sent=%d, at least one ResendRequest and at least %d PossDup resends", sum, total, offline)
	}
	lastSeq := int64(sum["lastSeq"])

	// Every inbound message up to the engine's Logout (its last MsgSeqNum)
	// must become durable.
	es := waitEvents(t, h.log, func(es []*chain.Event) bool {
		for _, e := range es {
			if f := e.Payload.FIX; f != nil && f.MsgType == "5" && f.MsgSeqNum == lastSeq {
				return true
			}
		}
		return false
	})
	// The engine has logged out and closed its connection: end the capture
	// and stop the tap before judging what it sent.
	px.close()
	h.stop(t)
	stopped = true

	checkInteropLog(t, es, total, lastSeq, sum["possDup"])

	// Passivity: the tap sent only session-level messages, and the proxy
	// saw everything the engine received from it.
	sent := px.msgTypes(t)
	t.Logf("the tap sent, by MsgType: %v", sent)
	for mt := range sent {
		if !sessionLevel[mt] {
			t.Errorf("the tap sent MsgType %q (%d times): only A, 0, 1, 2, 4, 5 and 3 are allowed", mt, sent[mt])
		}
	}
	if got := fmt.Sprint(sent); got != fmt.Sprint(parseFromTap(t, string(out))) {
		t.Errorf("the proxy captured %s, the engine received %v", got, parseFromTap(t, string(out)))
	}
	if sent["A"] != 2 || sent["2"] < 1 {
		t.Errorf("the tap sent %v: want two Logons and a ResendRequest", sent)
	}
}

// knownLogonGapFillIssue marks a tap bug this test found, so that it is
// reported (t.Logf "KNOWN TAP ISSUE") without failing the test; the
// exception covers only the reconnect Logon's MsgSeqNum N. Set it to false
// once the tap is fixed, and the checks it softens fail again.
//
// The engine reconnects with a Logon whose MsgSeqNum N is too high. The tap
// logs that Logon (quickfixgo calls FromAdmin before it notices the gap and
// never processes the Logon again), asks for a resend, and the engine gap
// fills N with a SequenceReset-GapFill (PossDupFlag=Y, NewSeqNo N+1), which
// skips nothing. quickfixgo applies it with store.SetNextTargetMsgSeqNum(N+1)
// (no Incr), and the store, whose in-memory counter is still N, records a
// reset: "epoch 0 ends expecting MsgSeqNum N; epoch 1 expects N+1" — a new
// epoch claiming N was never delivered, though the log holds its Logon.
// (Before the tap skipped PossDup resends of such out-of-order MsgSeqNums,
// the GapFill was also logged as a second event for N.)
const knownLogonGapFillIssue = false

// sessionLevel are the MsgTypes a passive tap may send.
var sessionLevel = map[string]bool{"A": true, "0": true, "1": true, "2": true, "4": true, "5": true, "3": true}

// checkInteropLog checks the log of the interop scenario: the execution
// reports each once with the right event types, one event per inbound
// MsgSeqNum, reset events that name only undelivered MsgSeqNums, one
// ERR_CONN for the drop, and an intact chain.
func checkInteropLog(t *testing.T, es []*chain.Event, total int, lastSeq int64, possDup int) {

	// The chain: events() re-hashed every record; here the links.
	zero := strings.Repeat("0", 64)
	for i, e := range es {
		want := zero
		if i > 0 {
			want = es[i-1].Security.EventHash
		}
		if e.Security.PrevHash != want {
			t.Fatalf("event %d: PrevHash %s, want %s", i, e.Security.PrevHash, want)
		}
	}

	// The execution reports: each ExecID once, classified by its ExecType.
	want := map[chain.EventType]int{}
	for i := range total {
		want[[]chain.EventType{chain.ACK, chain.PRT, chain.EXE, chain.CXL, chain.MOD, chain.REJ, chain.CXL}[i%7]]++
	}
	got := map[chain.EventType]int{}
	execIDs := map[string]int{}
	dups, conns := 0, 0
	for _, e := range es {
		f := e.Payload.FIX
		if f == nil {
			if d := e.Payload.ErrorDetails; d != nil && d.ErrorCode == "ERR_CONN" {
				conns++
			}
			continue
		}
		if f.MsgType != "8" {
			continue
		}
		got[e.Header.EventType]++
		if e.Payload.Trade != nil {
			execIDs[e.Payload.Trade.ExecID]++
		}
		if f.PossDupFlag {
			dups++
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("execution report events by type %v, want %v", got, want)
	}
	for i := range total {
		if id := fmt.Sprintf("X-%d", i); execIDs[id] != 1 {
			t.Errorf("ExecID %s: %d events, want 1", id, execIDs[id])
		}
	}
	if len(execIDs) != total {
		t.Errorf("%d distinct ExecIDs, want %d", len(execIDs), total)
	}
	if dups != possDup {
		t.Errorf("%d execution reports logged with PossDupFlag=Y; the engine resent %d", dups, possDup)
	}
	if conns != 1 {
		t.Errorf("%d ERR_CONN events for the transport drop, want 1", conns)
	}

	// One event per inbound MsgSeqNum. The engine never reset its
	// sequence, so over all epochs together every MsgSeqNum 1…lastSeq is
	// one event, and each epoch is a contiguous range.
	type at struct {
		epoch   int64
		msgType string
	}
	seen := map[int64][]at{}
	var logons []int64
	for _, e := range es {
		if f := e.Payload.FIX; f != nil && f.MsgType != "" {
			seen[f.MsgSeqNum] = append(seen[f.MsgSeqNum], at{f.Epoch, f.MsgType})
			if f.MsgType == "A" {
				logons = append(logons, f.MsgSeqNum)
			}
		}
	}
	if len(logons) != 2 {
		t.Fatalf("Logon events at MsgSeqNums %v, want two", logons)
	}
	// problem fails the test, except the known issue of the reconnect
	// Logon's MsgSeqNum while knownLogonGapFillIssue is set.
	known := 0
	problem := func(seq int64, format string, args ...any) {
		t.Helper()
		if knownLogonGapFillIssue && seq == logons[1] {
			known++
			t.Logf("KNOWN TAP ISSUE (knownLogonGapFillIssue) at the reconnect Logon's MsgSeqNum %d: "+format, append([]any{seq}, args...)...)
			return
		}
		t.Errorf(format, args...)
	}
	for seq := int64(1); seq <= lastSeq; seq++ {
		if len(seen[seq]) != 1 {
			problem(seq, "inbound MsgSeqNum %d: %d events %v, want exactly one", seq, len(seen[seq]), seen[seq])
		}
	}
	if int64(len(seen)) != lastSeq {
		t.Errorf("events for %d distinct MsgSeqNums, the engine sent 1…%d", len(seen), lastSeq)
	}
	for epoch, seqs := range inbound(es) {
		lo, hi := slices.Min(seqs), slices.Max(seqs)
		if distinct := len(slices.Compact(slices.Sorted(slices.Values(seqs)))); int64(distinct) != hi-lo+1 {
			t.Errorf("epoch %d: %d distinct inbound MsgSeqNums in %d…%d", epoch, distinct, lo, hi)
		}
	}

	// A reset event names the MsgSeqNums its old epoch never delivered:
	// none of them may have an event in that epoch.
	for i, e := range es {
		ts := e.Payload.TapSession
		if ts == nil {
			continue
		}
		t.Logf("event %d: %s", i, e.Payload.ErrorDetails.ErrorMessage)
		for seq := ts.PrevNextExpected; seq < ts.NextExpected; seq++ {
			for _, a := range seen[seq] {
				if a.epoch == ts.PrevEpoch {
					problem(seq, "event %d (%s) says epoch %d never delivered MsgSeqNum %d, but the log holds its MsgType %s in epoch %d",
						i, ts.Reason, ts.PrevEpoch, seq, a.msgType, a.epoch)
				}
			}
		}
	}
	if knownLogonGapFillIssue && known == 0 {
		t.Logf("the known issue did not appear: set knownLogonGapFillIssue to false")
	}
}

// parseFromTap reads "fromTap=35:n,…" of the initiator's SUMMARY line: the
// MsgTypes it received from the tap.
func parseFromTap(t *testing.T, out string) map[string]int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^SUMMARY .*fromTap=(\S*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("initiator printed no fromTap")
	}
	types := map[string]int{}
	for _, kv := range strings.Split(strings.TrimSuffix(m[1], ","), ",") {
		k, v, _ := strings.Cut(kv, ":")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("fromTap %q: %v", m[1], err)
		}
		types[k] = n
	}
	return types
}

// parseSummary reads the initiator's last line, "SUMMARY k=v …".
func parseSummary(t *testing.T, out string) map[string]int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^SUMMARY (.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("initiator printed no SUMMARY line")
	}
	sum := map[string]int{}
	for _, kv := range strings.Fields(m[1]) {
		k, v, _ := strings.Cut(kv, "=")
		if n, err := strconv.Atoi(v); err == nil {
			sum[k] = n
		}
	}
	return sum
}

// proxy forwards TCP connections to the tap and records every byte the tap
// sends back, per connection, in order.
type proxy struct {
	port int
	ln   net.Listener

	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	down   []*bytes.Buffer // tap → engine, one per connection
	wg     sync.WaitGroup
	once   sync.Once
}

func startProxy(t *testing.T, target int) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{port: ln.Addr().(*net.TCPAddr).Port, ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", target))
			if err != nil {
				c.Close()
				continue
			}
			buf := &bytes.Buffer{}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				c.Close()
				u.Close()
				return
			}
			p.conns = append(p.conns, c, u)
			p.down = append(p.down, buf)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { // engine → tap
				defer p.wg.Done()
				io.Copy(u, c)
				u.(*net.TCPConn).CloseWrite()
			}()
			go func() { // tap → engine, recorded
				defer p.wg.Done()
				io.Copy(c, io.TeeReader(u, lockedWriter{&p.mu, buf}))
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func (p *proxy) close() {
	p.once.Do(func() {
		p.ln.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// msgTypes frames the recorded tap → engine bytes of every connection as
// FIX messages (BodyLength and CheckSum) and counts their MsgTypes.
func (p *proxy) msgTypes(t *testing.T) map[string]int {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	types := map[string]int{}
	for i, buf := range p.down {
		b := buf.Bytes()
		for len(b) > 0 {
			mt, n, err := frameFIX(b)
			if err != nil {
				t.Fatalf("connection %d: tap sent bytes that are not a FIX message at %q: %v", i, b[:min(len(b), 80)], err)
			}
			types[mt]++
			b = b[n:]
		}
	}
	return types
}

// frameFIX returns the MsgType and the length of the FIX message b starts
// with: 8=…␁9=len␁ body of len bytes (starting with 35=) 10=nnn␁.
func frameFIX(b []byte) (msgType string, n int, err error) {
	if !bytes.HasPrefix(b, []byte("8=FIX")) {
		return "", 0, fmt.Errorf("no 8=FIX")
	}
	i := bytes.IndexByte(b, 1)
	if i < 0 || !bytes.HasPrefix(b[i+1:], []byte("9=")) {
		return "", 0, fmt.Errorf("no BodyLength")
	}
	j := bytes.IndexByte(b[i+1:], 1)
	if j < 0 {
		return "", 0, fmt.Errorf("truncated BodyLength")
	}
	bodyLen, err := strconv.Atoi(string(b[i+3 : i+1+j]))
	if err != nil {
		return "", 0, fmt.Errorf("BodyLength: %w", err)
	}
	body := i + 1 + j + 1
	end := body + bodyLen
	if end+7 > len(b) || !bytes.HasPrefix(b[end:], []byte("10=")) || b[end+6] != 1 {
		return "", 0, fmt.Errorf("no CheckSum after a body of %d bytes", bodyLen)
	}
	if !bytes.HasPrefix(b[body:], []byte("35=")) {
		return "", 0, fmt.Errorf("body does not start with MsgType")
	}
	k := bytes.IndexByte(b[body:end], 1)
	if k < 0 {
		return "", 0, fmt.Errorf("unterminated MsgType")
	}
	return string(b[body+3 : body+k]), end + 7, nil
}
