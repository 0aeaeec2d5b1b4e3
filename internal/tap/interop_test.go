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
	"sort"
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
	// Stop the tap before reading what it sent: nothing may follow.
	px.close()
	h.stop(t)
	stopped = true

	for i, e := range es {
		ev := ""
		if e.Payload.FIX != nil {
			ev = fmt.Sprintf("35=%s 34=%d 43=%v epoch=%d", e.Payload.FIX.MsgType, e.Payload.FIX.MsgSeqNum, e.Payload.FIX.PossDupFlag, e.Payload.FIX.Epoch)
		}
		if e.Payload.ErrorDetails != nil {
			ev += " " + e.Payload.ErrorDetails.ErrorCode + " " + e.Payload.ErrorDetails.ErrorMessage
		}
		if i < 5 || (i > 395 && i < 410) || (i > 550 && i < 570) || i > len(es)-5 || e.Header.EventType == chain.ERR {
			t.Logf("event %d %s %s", i, e.Header.EventType, ev)
		}
	}
	t.Logf("tap sent: %v", px.msgTypes(t))
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

	mu    sync.Mutex
	conns []net.Conn
	down  []*bytes.Buffer // tap → engine, one per connection
	wg    sync.WaitGroup
	once  sync.Once
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

var _ = sort.Ints
