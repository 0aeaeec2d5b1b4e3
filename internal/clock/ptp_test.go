package clock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// PTP managementIds (IEEE 1588 Table 59, linuxptp's _NP extensions).
const (
	mgmtCurrentDataSet   = 0x2001
	mgmtParentDataSet    = 0x2002
	mgmtTimeStatusNP     = 0xc000
	mgmtPortPropertiesNP = 0xc004
)

// ptpReplayConn answers each management request with a canned reply
// chosen by managementId, its sequenceId patched to the request's.
type ptpReplayConn struct {
	replies map[uint16][]byte
	pending []byte
}

func (c *ptpReplayConn) Write(p []byte) (int, error) {
	id, ok := ptpMgmtID(p)
	if !ok {
		return 0, errors.New("short request")
	}
	r, ok := c.replies[id]
	if !ok {
		return 0, errors.New("no reply for managementId")
	}
	r = bytes.Clone(r)
	if len(r) >= 32 {
		copy(r[30:32], p[30:32])
	}
	c.pending = r
	return len(p), nil
}

func (c *ptpReplayConn) Read(p []byte) (int, error) {
	if c.pending == nil {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, c.pending)
	c.pending = nil
	return n, nil
}

func (c *ptpReplayConn) Close() error                { return nil }
func (c *ptpReplayConn) SetDeadline(time.Time) error { return nil }

// ptpMgmtID returns the managementId of a management message (request or
// reply): 34-byte header, 14 bytes of management fields, TLV type and
// length, then the ID.
func ptpMgmtID(b []byte) (uint16, bool) {
	if len(b) < 54 {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[52:54]), true
}

func readPTPFixtures(t testing.TB) map[uint16][]byte {
	t.Helper()
	out := map[uint16][]byte{}
	for id, name := range map[uint16]string{
		mgmtCurrentDataSet: "reply-2001.bin", mgmtParentDataSet: "reply-2002.bin",
		mgmtTimeStatusNP: "reply-c000.bin", mgmtPortPropertiesNP: "reply-c004.bin",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "ptp4l", name))
		if err != nil {
			t.Fatal(err)
		}
		out[id] = b
	}
	return out
}

func ptpReplaySource(replies map[uint16][]byte) *ptpSource {
	s := newPTPSource(PTPConfig{Socket: "/nonexistent/ptp4l"})
	s.dial = func() (deadlineConn, error) { return &ptpReplayConn{replies: replies}, nil }
	return s
}

// TestPTPReplay decodes the recorded replies of a real ptp4l slave
// (testdata/ptp4l/README.md). Its age is unknown on the first poll and
// grows while ingress_time does not move.
func TestPTPReplay(t *testing.T) {
	fx := readPTPFixtures(t)
	s := ptpReplaySource(fx)
	t1 := time.Now()
	d := s.poll(func() time.Time { return t1 })
	if !d.Reachable {
		t.Fatalf("replay: %s", d.Err)
	}
	if d.PortState != "SLAVE" || !d.GMPresent || d.ClockClass != 248 || d.ClockAccuracy != 0xfe ||
		d.MasterOffsetNs != -1332 || d.MeanPathDelayNs != 2764 || d.GMIdentity != "162230.fffe.90bc03" || d.AgeNs != -1 {
		t.Fatalf("decoded %+v", d)
	}
	if r := Derive(Defaults(), Measurement{PTP: d}, []int64{PTPBound(d)}); r.Status != chain.Unreliable {
		t.Fatalf("first poll (age unknown): %+v", r)
	}
	t2 := t1.Add(500 * time.Millisecond)
	d = s.poll(func() time.Time { return t2 })
	if d.AgeNs != int64(500*time.Millisecond) {
		t.Fatalf("second poll, same ingress time: age %d, want 500ms", d.AgeNs)
	}
	r := Derive(Defaults(), Measurement{PTP: d}, repeat(PTPBound(d), 10))
	if r.Status != chain.BestEffort || r.MaxErrorNs != 4096 {
		t.Fatalf("Derive = %+v", r)
	}
	t3 := t1.Add(4 * time.Second)
	if d = s.poll(func() time.Time { return t3 }); Derive(Defaults(), Measurement{PTP: d}, nil).Status != chain.Unreliable {
		t.Fatalf("ingress time unchanged for 4 s, still not stale: %+v", d)
	}
}

// FuzzPTPReply feeds arbitrary management replies through the poll path
// (library decoding, sequence matching, conversions) and Derive.
func FuzzPTPReply(f *testing.F) {
	fx := readPTPFixtures(f)
	f.Add(fx[mgmtPortPropertiesNP], fx[mgmtTimeStatusNP], fx[mgmtCurrentDataSet], fx[mgmtParentDataSet])
	f.Add(fx[mgmtPortPropertiesNP][:60], fx[mgmtTimeStatusNP], fx[mgmtCurrentDataSet], fx[mgmtParentDataSet])
	f.Add([]byte{}, []byte{}, []byte{}, []byte{})
	th := Defaults()
	f.Fuzz(func(t *testing.T, port, status, current, parent []byte) {
		s := ptpReplaySource(map[uint16][]byte{
			mgmtPortPropertiesNP: port, mgmtTimeStatusNP: status, mgmtCurrentDataSet: current, mgmtParentDataSet: parent,
		})
		now := time.Now()
		var d *PTPData
		for range 2 {
			d = s.poll(func() time.Time { return now })
			now = now.Add(100 * time.Millisecond)
		}
		if !d.Reachable {
			if d.Err == "" {
				t.Fatal("unreachable without a reason")
			}
			return
		}
		r := Derive(th, Measurement{Taken: now, PTP: d}, repeat(PTPBound(d), th.PTPSamples))
		if r.MaxErrorNs < 0 {
			t.Fatalf("negative bound %d from %+v", r.MaxErrorNs, d)
		}
		if r.Status != chain.Unreliable && (d.PortState != "SLAVE" || !d.GMPresent || d.MeanPathDelayNs <= 0 || d.AgeNs < 0) {
			t.Fatalf("%s from %+v", r.Status, d)
		}
		if r.Status == chain.PTPLocked && (d.ClockClass != 6 || r.MaxErrorNs > th.PTPMaxErrorNs) {
			t.Fatalf("PTP_LOCKED from %+v", d)
		}
		if _, err := chain.AppendCanonical(nil, newSnapshot(1, th, Measurement{Taken: now, PTP: d}, r).Evidence("")); err != nil {
			t.Fatalf("evidence does not canonicalize: %v", err)
		}
	})
}
