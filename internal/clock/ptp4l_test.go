//go:build linux

package clock

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/testenv"
)

const ptpCommonConf = `time_stamping software
network_transport L2
logAnnounceInterval -2
logSyncInterval -3
announceReceiptTimeout 3
`

// TestPTP4l runs two ptp4l in software-timestamping mode over a veth pair
// in a new user and network namespace (unshare -rn): a master with
// priority1 10 and a slave with slaveOnly 1 and free_running 1 (it may not
// adjust the host clock), told SET SYNCHRONIZATION_UNCERTAIN_NP 0 so that
// its port goes from UNCALIBRATED to SLAVE. The tap's management client
// reads a real SLAVE port state, master offset, mean path delay and
// grandmaster; the classification is whatever those measurements give
// (software timestamps and a clockClass-248 grandmaster cannot honestly be
// PTP_LOCKED).
func TestPTP4l(t *testing.T) {
	ptp4l := testenv.RequireTool(t, "ptp4l")
	pmc := testenv.RequireTool(t, "pmc")
	unshare := testenv.RequireTool(t, "unshare")
	ip := testenv.RequireTool(t, "ip")
	if out, err := exec.Command(unshare, "-rn", ip, "link", "add", "va", "type", "veth", "peer", "name", "vb").CombinedOutput(); err != nil {
		testenv.Skip(t, "unshare -rn with a veth pair does not work here: %v: %s", err, out)
	}

	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	master := write("master.cfg", "[global]\npriority1 10\nuds_address "+dir+"/master.sock\n"+ptpCommonConf)
	slaveSock := filepath.Join(dir, "slave.sock")
	slave := write("slave.cfg", "[global]\nslaveOnly 1\nfree_running 1\nuds_address "+slaveSock+"\n"+ptpCommonConf)
	script := write("run.sh", fmt.Sprintf(`set -e
%[1]s link add veth0 type veth peer name veth1
%[1]s link set veth0 up
%[1]s link set veth1 up
%[2]s -f %[3]s -i veth0 -m > %[5]s/master.log 2>&1 &
exec %[2]s -f %[4]s -i veth1 -m > %[5]s/slave.log 2>&1
`, ip, ptp4l, master, slave, dir))

	// unshare, the shell and both ptp4l share one new process group, which
	// Cleanup kills as a whole (the group's id is unshare's PID).
	cmd := exec.Command(unshare, "-rn", "sh", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		testenv.Skip(t, "cannot start unshare: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			for _, n := range []string{"master.log", "slave.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, n))
				t.Logf("%s:\n%s", n, b)
			}
			t.Logf("unshare output: %s", out.String())
		}
	})

	// Wait for the slave's socket, then clear its "synchronization
	// uncertain" flag with pmc.
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := exec.Command(pmc, "-u", "-i", filepath.Join(dir, "pmc.sock"), "-s", slaveSock, "-b", "0", "SET SYNCHRONIZATION_UNCERTAIN_NP 0").CombinedOutput()
		if err == nil && strings.Contains(string(o), "uncertain 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pmc SET SYNCHRONIZATION_UNCERTAIN_NP 0: %v: %s", err, o)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var rec *ptpRecorder
	if *updateFixtures {
		rec = &ptpRecorder{replies: map[uint16][]byte{}}
	}
	cfg := Config{PTP: &PTPConfig{Socket: slaveSock}, PollInterval: 200 * time.Millisecond}
	c, err := newClock(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	s := waitFor(t, c, 30*time.Second, "ptp4l port SLAVE with a measured path delay", func(s *Snapshot) bool {
		return s.PTP.Reachable && s.PTP.PortState == "SLAVE" && s.PTP.AgeNs >= 0 && s.PTP.MeanPathDelayNs > 0
	})
	p := s.PTP
	t.Logf("after %v: port %s, master offset %dns (current data set %dns), mean path delay %dns, GM %s clockClass %d accuracy %#x, age %v → %s bound %dns (%s)",
		time.Since(start).Round(time.Millisecond), p.PortState, p.MasterOffsetNs, p.OffsetFromMasterNs, p.MeanPathDelayNs, p.GMIdentity,
		p.ClockClass, p.ClockAccuracy, time.Duration(p.AgeNs), s.Status, s.MaxErrorNs, s.Reason)
	if !p.GMPresent || p.GMIdentity == "" || p.MeanPathDelayNs <= 0 {
		t.Fatalf("implausible PTP measurement: %+v", p)
	}
	if s.Source != SourcePTP || s.MaxErrorNs != PTPBound(p) {
		t.Fatalf("snapshot source %s bound %d, want PTP %d", s.Source, s.MaxErrorNs, PTPBound(p))
	}
	// Whatever the status, it must be the one the rules give.
	want := chain.BestEffort
	if p.ClockClass == 6 && PTPBound(p) <= Defaults().PTPMaxErrorNs {
		want = chain.PTPLocked // would need 10 such samples; not expected here
	}
	if s.MaxErrorNs > Defaults().BestEffortMaxErrorNs {
		want = chain.Unreliable
	}
	if s.Status != want && !(want == chain.PTPLocked && s.Status == chain.BestEffort) {
		t.Fatalf("status %s, the rules give %s", s.Status, want)
	}

	if rec != nil {
		src := newPTPSource(*cfg.PTP)
		inner := src.dial
		src.dial = func() (deadlineConn, error) {
			conn, err := inner()
			if err != nil {
				return nil, err
			}
			return &ptpRecordingConn{deadlineConn: conn, r: rec}, nil
		}
		d := src.poll(time.Now)
		src.close()
		if !d.Reachable || d.PortState != "SLAVE" {
			t.Fatalf("recording poll: %+v", d)
		}
		rec.save(t)
	}
	local := c.ptp.local
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("client socket %s left behind: %v", local, err)
	}
}

type ptpRecorder struct {
	mu      sync.Mutex
	replies map[uint16][]byte
}

type ptpRecordingConn struct {
	deadlineConn
	r *ptpRecorder
}

func (c *ptpRecordingConn) Read(p []byte) (int, error) {
	n, err := c.deadlineConn.Read(p)
	if id, ok := ptpMgmtID(p[:n]); err == nil && ok {
		c.r.mu.Lock()
		c.r.replies[id] = bytes.Clone(p[:n])
		c.r.mu.Unlock()
	}
	return n, err
}

func (r *ptpRecorder) save(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.MkdirAll(filepath.Join("testdata", "ptp4l"), 0o755); err != nil {
		t.Fatal(err)
	}
	for id, b := range r.replies {
		p := filepath.Join("testdata", "ptp4l", fmt.Sprintf("reply-%04x.bin", id))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", p, len(b))
	}
}
