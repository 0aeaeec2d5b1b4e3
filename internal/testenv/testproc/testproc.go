// Package testproc runs the external programs of integration tests (an S3
// server, a witness, an ssh-agent) as owned child processes: each is started
// with exec.CommandContext, its output is captured and written to the test
// log when the test fails, it is stopped by PID (SIGTERM, then SIGKILL after
// a grace period) in t.Cleanup, and on Linux it is sent SIGKILL by the kernel
// if the test binary dies first (Pdeathsig), so no child outlives its test.
//
// Pdeathsig fires when the OS thread that forked the child exits. The Go
// runtime only ends threads whose goroutine exits while locked to them
// (runtime.LockOSThread), which neither the testing package nor this package
// does, so in practice the signal comes when the test binary exits or is
// killed.
package testproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultGrace is how long Stop waits after SIGTERM before it sends SIGKILL
// when Cmd.Grace is zero.
const DefaultGrace = 5 * time.Second

// Cmd describes a process to start.
type Cmd struct {
	Name string   // for messages and the test log, e.g. "versitygw"
	Path string   // the executable
	Args []string // arguments after the program name
	// Env is the child's whole environment; nil means a minimal one: PATH,
	// HOME and TMPDIR of the test binary, nothing else, so that a
	// developer's VGW_*, AWS_* or SSH_AUTH_SOCK cannot change a test.
	Env []string
	Dir string // working directory; "" means the test binary's
	// Grace is how long Stop waits after SIGTERM before SIGKILL; zero
	// means DefaultGrace.
	Grace time.Duration
}

// Proc is a running (or exited) child process.
type Proc struct {
	name  string
	grace time.Duration
	cmd   *exec.Cmd
	out   *syncBuffer
	done  chan struct{} // closed when Wait returned
	err   error         // Wait's error, valid after done is closed
	stop  sync.Once
}

// Start starts c and registers, in t.Cleanup, the stop of the process (by
// PID, see Stop) and, when the test has failed, a dump of its combined
// stdout and stderr to the test log. Failing to start fails the test.
func Start(t testing.TB, c Cmd) *Proc {
	t.Helper()
	p, err := start(c)
	if err != nil {
		t.Fatalf("testproc: %v", err)
	}
	// Cleanups run last-registered first: the stop, then the log dump, so
	// the dump holds everything the process wrote.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testproc: output of %s (pid %d):\n%s", p.name, p.PID(), p.Output())
		}
	})
	t.Cleanup(func() { p.Stop(t) })
	return p
}

func start(c Cmd) (*Proc, error) {
	env := c.Env
	if env == nil {
		env = MinimalEnv()
	}
	// The context is a backstop only: Stop signals the process by PID.
	// Cancel, when it comes (never, unless a caller adds one), kills.
	cmd := exec.CommandContext(context.Background(), c.Path, c.Args...)
	cmd.Env = env
	cmd.Dir = c.Dir
	cmd.SysProcAttr = sysProcAttr()
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	// After the process exits, stop waiting for its output pipes (a
	// grandchild holding them must not hang Wait).
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", c.Name, c.Path, err)
	}
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	p := &Proc{name: c.Name, grace: grace, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// MinimalEnv returns PATH, HOME and TMPDIR of the test binary (those that are
// set), the whole environment a child gets when Cmd.Env is nil.
func MinimalEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// PID returns the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Name returns Cmd.Name.
func (p *Proc) Name() string { return p.name }

// Output returns what the process has written so far to stdout and stderr.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited and, if so, Wait's error
// (nil for a zero exit status).
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process by PID, sends SIGKILL if it has not
// exited after Cmd.Grace, and waits until it is reaped. It is idempotent and
// safe to call from t.Cleanup; an exit caused by its own signal is not an
// error, and an earlier unexpected exit is only logged.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	p.stop.Do(func() {
		if exited, err := p.Exited(); exited {
			if err != nil {
				t.Logf("testproc: %s (pid %d) had already exited: %v", p.name, p.PID(), err)
			}
			return
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("testproc: SIGTERM %s (pid %d): %v", p.name, p.PID(), err)
		}
		timer := time.NewTimer(p.grace)
		defer timer.Stop()
		select {
		case <-p.done:
			return
		case <-timer.C:
		}
		t.Logf("testproc: %s (pid %d) still running %v after SIGTERM; sending SIGKILL", p.name, p.PID(), p.grace)
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("testproc: SIGKILL %s (pid %d): %v", p.name, p.PID(), err)
		}
		<-p.done
	})
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: the
// kernel picks it for a listener that is closed at once. Another process may
// take it before the caller binds it; callers that start a server on it
// should check that the server came up (WaitHTTP fails when it exits).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testproc: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// HostPort returns "127.0.0.1:<port>".
func HostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// WaitHTTP polls url with GET until ready accepts a response, failing the
// test if the process exits first or timeout passes. ready == nil accepts any
// HTTP response (the server is listening and speaking HTTP).
func (p *Proc) WaitHTTP(t testing.TB, url string, timeout time.Duration, ready func(*http.Response) bool) {
	t.Helper()
	if err := p.AwaitHTTP(url, timeout, ready); err != nil {
		t.Fatalf("testproc: %s (pid %d) did not answer at %s: %v\n%s", p.name, p.PID(), url, err, p.Output())
	}
}

// AwaitHTTP is WaitHTTP returning the error instead of failing the test, for
// callers that retry (a server that lost its port to another process).
func (p *Proc) AwaitHTTP(url string, timeout time.Duration, ready func(*http.Response) bool) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		resp, err := client.Get(url)
		if err == nil {
			ok := ready == nil || ready(resp)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if ok {
				return nil
			}
			last = fmt.Errorf("not ready: HTTP %s", resp.Status)
		} else {
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited (%v); last attempt: %w", p.err, last)
		case <-deadline.C:
			return fmt.Errorf("timed out after %v; last attempt: %w", timeout, last)
		case <-tick.C:
		}
	}
}

// AwaitListener waits until the process itself listens on TCP port (on
// Linux, by its sockets in /proc; elsewhere it returns at once), so that a
// health check that follows reaches this process and not another one that
// took the port. It returns an error if the process exits first — see
// LostPort — or timeout passes.
func (p *Proc) AwaitListener(port int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := listening(p.PID(), port)
		if ok {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited (%v) before listening on port %d", p.err, port)
		case <-deadline.C:
			return fmt.Errorf("not listening on port %d after %v (last error: %v)", port, timeout, err)
		case <-tick.C:
		}
	}
}

// LostPort reports whether the process has exited because the address it
// was told to listen on was taken ("address already in use") — the race
// FreePort leaves open; the caller may retry on another port.
func (p *Proc) LostPort() bool {
	exited, _ := p.Exited()
	return exited && strings.Contains(p.Output(), "address already in use")
}

// WaitFile waits until path exists (a Unix socket, a PID file), failing the
// test if the process exits first or timeout passes.
func (p *Proc) WaitFile(t testing.TB, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("testproc: %s (pid %d) exited (%v) before creating %s\n%s", p.name, p.PID(), p.err, path, p.Output())
		case <-deadline.C:
			t.Fatalf("testproc: %s (pid %d) did not create %s within %v\n%s", p.name, p.PID(), path, timeout, p.Output())
		case <-tick.C:
		}
	}
}

// Alive reports whether a process with this PID exists (and is not a zombie
// awaiting its parent), by signal 0 and, on Linux, /proc/PID/stat.
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ...: the state follows the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a child's
// stdout and stderr copiers and reads by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
