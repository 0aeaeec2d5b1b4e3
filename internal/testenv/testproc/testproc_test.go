package testproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/testenv"
)

// waitOutput waits until p has written want.
func waitOutput(t *testing.T, p *Proc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not write %q; output: %q", p.Name(), want, p.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStopTerminates(t *testing.T) {
	sleep := testenv.RequireTool(t, "sleep")
	p := Start(t, Cmd{Name: "sleep", Path: sleep, Args: []string{"60"}})
	if !Alive(p.PID()) {
		t.Fatalf("pid %d not alive after Start", p.PID())
	}
	p.Stop(t)
	exited, err := p.Exited()
	var ee *exec.ExitError
	if !exited || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("after Stop: exited %v, err %v; want an exit by SIGTERM", exited, err)
	}
	if Alive(p.PID()) {
		t.Fatalf("pid %d alive after Stop", p.PID())
	}
	p.Stop(t) // idempotent
}

// TestStopKillsAfterGrace: a process that ignores SIGTERM is killed once
// Grace has passed.
func TestStopKillsAfterGrace(t *testing.T) {
	sh := testenv.RequireTool(t, "sh")
	const grace = 300 * time.Millisecond
	// An ignored signal stays ignored across exec.
	p := Start(t, Cmd{Name: "stubborn", Path: sh, Args: []string{"-c", `trap "" TERM; echo ready; exec sleep 60`}, Grace: grace})
	waitOutput(t, p, "ready")
	start := time.Now()
	p.Stop(t)
	took := time.Since(start)
	exited, err := p.Exited()
	var ee *exec.ExitError
	if !exited || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("after Stop: exited %v, err %v; want an exit by SIGKILL", exited, err)
	}
	if took < grace {
		t.Errorf("Stop took %v, less than the grace period %v", took, grace)
	}
}

// TestAwaitHTTPProcessExits: waiting on a process that exits returns at
// once with an error that says so, rather than waiting out the timeout.
func TestAwaitHTTPProcessExits(t *testing.T) {
	sh := testenv.RequireTool(t, "sh")
	p := Start(t, Cmd{Name: "quitter", Path: sh, Args: []string{"-c", "echo boom >&2; exit 3"}})
	start := time.Now()
	err := p.AwaitHTTP("http://"+HostPort(FreePort(t))+"/", time.Minute, nil)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("AwaitHTTP = %v, want an error saying the process exited", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("AwaitHTTP took %v to notice the exit", took)
	}
	if !strings.Contains(p.Output(), "boom") {
		t.Errorf("Output() = %q, want the process's stderr", p.Output())
	}
}

func TestMinimalEnv(t *testing.T) {
	t.Setenv("VGW_PORT", ":1")
	t.Setenv("SSH_AUTH_SOCK", "/nonexistent")
	for _, kv := range MinimalEnv() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "PATH" && k != "HOME" && k != "TMPDIR" {
			t.Errorf("MinimalEnv has %q", kv)
		}
	}
	sh := testenv.RequireTool(t, "sh")
	p := Start(t, Cmd{Name: "env", Path: sh, Args: []string{"-c", `echo "vgw=$VGW_PORT sock=$SSH_AUTH_SOCK"`}})
	<-p.Done()
	if got := strings.TrimSpace(p.Output()); got != "vgw= sock=" {
		t.Errorf("child saw %q, want the variables unset", got)
	}
}

const childEnv = "FIXTAP_TESTPROC_CHILD"

// TestPdeathsig kills a test binary that started a child with Start and
// expects the kernel to kill that child: no process outlives a killed test.
func TestPdeathsig(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		// The helper: start a long sleep, report its PID, wait to be killed.
		sleep := testenv.RequireTool(t, "sleep")
		p := Start(t, Cmd{Name: "sleep", Path: sleep, Args: []string{"600"}})
		fmt.Printf("child-pid %d\n", p.PID())
		time.Sleep(10 * time.Minute)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := append(MinimalEnv(), childEnv+"=1")
	helper := Start(t, Cmd{Name: "test helper", Path: self, Args: []string{"-test.run=^TestPdeathsig$", "-test.v"}, Env: env})
	waitOutput(t, helper, "child-pid ")
	line := helper.Output()[strings.Index(helper.Output(), "child-pid "):]
	line, _, _ = strings.Cut(line, "\n")
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "child-pid "))
	if err != nil {
		t.Fatalf("helper output %q: %v", helper.Output(), err)
	}
	if !Alive(pid) {
		t.Fatalf("the helper's child %d is not running", pid)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // if the test fails

	if err := syscall.Kill(helper.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-helper.Done()
	deadline := time.Now().Add(10 * time.Second)
	for Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of a SIGKILLed test binary still alive after 10s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("Alive(self) = false")
	}
	sh := testenv.RequireTool(t, "sh")
	p := Start(t, Cmd{Name: "true", Path: sh, Args: []string{"-c", "exit 0"}})
	<-p.Done()
	if Alive(p.PID()) {
		t.Errorf("Alive(%d) = true for a reaped process", p.PID())
	}
}

func TestListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if ok, err := listening(os.Getpid(), port); !ok || err != nil {
		t.Errorf("listening(self, %d) = %v, %v; want true", port, ok, err)
	}
	sleep := testenv.RequireTool(t, "sleep")
	p := Start(t, Cmd{Name: "sleep", Path: sleep, Args: []string{"60"}})
	if ok, err := listening(p.PID(), port); ok || err != nil {
		t.Errorf("listening(another process, %d) = %v, %v; want false", port, ok, err)
	}
	free := FreePort(t)
	if ok, err := listening(os.Getpid(), free); ok || err != nil {
		t.Errorf("listening(self, unused port %d) = %v, %v; want false", free, ok, err)
	}
	if err := p.AwaitListener(port, 200*time.Millisecond); err == nil {
		t.Error("AwaitListener succeeded for a process that does not listen")
	}
}
