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

// replayConn answers each chrony request with a canned reply, the sequence
// number patched to the request's. Replies are chosen by request command.
type replayConn struct {
	replies map[uint16][]byte // request command → reply bytes
	pending []byte
}

func (c *replayConn) Write(p []byte) (int, error) {
	if len(p) < 12 {
		return 0, errors.New("short request")
	}
	cmd := binary.BigEndian.Uint16(p[4:6])
	r, ok := c.replies[cmd]
	if !ok {
		return 0, errors.New("no reply for command")
	}
	r = bytes.Clone(r)
	if len(r) >= 20 {
		copy(r[16:20], p[8:12])
	}
	c.pending = r
	return len(p), nil
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.pending == nil {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, c.pending)
	c.pending = nil
	return n, nil
}

func (c *replayConn) Close() error                { return nil }
func (c *replayConn) SetDeadline(time.Time) error { return nil }

// chrony request commands (candm.h).
const (
	reqNSources   = 14
	reqSourceData = 15
	reqTracking   = 33
)

func readFixtures(t testing.TB) (tracking, sources, sourceData []byte) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "chrony", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return read("reply-5.bin"), read("reply-2.bin"), read("reply-3.bin")
}

func replaySource(tracking, sources, sourceData []byte) *chronySource {
	s := newChronySource(ChronyConfig{})
	s.dial = func() (deadlineConn, error) {
		return &replayConn{replies: map[uint16][]byte{reqTracking: tracking, reqNSources: sources, reqSourceData: sourceData}}, nil
	}
	return s
}

// TestChronyReplay decodes the recorded replies of a real, synchronised
// chronyd (testdata/chrony/README.md) and derives NTP_SYNCED from them when
// "now" is just after its reference time.
func TestChronyReplay(t *testing.T) {
	tr, ns, sd := readFixtures(t)
	var refTime time.Time
	s := replaySource(tr, ns, sd)
	d := s.poll(func() time.Time { return refTime })
	if !d.Reachable {
		t.Fatalf("replay: %s", d.Err)
	}
	if d.RefID != 0x7F000001 || d.RefAddr != "127.0.0.1" || d.Stratum != 9 || d.Leap != ChronyLeapNormal ||
		!d.Selected || d.SelectedAddr != "127.0.0.1" || d.SelectedPoll != -6 || d.NumSources != 1 || d.RefTime.IsZero() {
		t.Fatalf("decoded %+v", d)
	}
	if d.RootDelayNs <= 0 || d.RootDelayNs > 1_000_000 || d.RootDispersionNs < 0 || d.RootDispersionNs > 1_000_000 {
		t.Fatalf("implausible root delay/dispersion: %+v", d)
	}
	// Re-run with "now" 100 ms after the recorded reference time.
	refTime = d.RefTime.Add(-time.Duration(d.CurrentCorrectionNs)).Add(100 * time.Millisecond)
	d = replaySource(tr, ns, sd).poll(func() time.Time { return refTime })
	if d.LastUpdateAgeNs != int64(100*time.Millisecond) {
		t.Fatalf("LastUpdateAgeNs %d, want 100ms", d.LastUpdateAgeNs)
	}
	r := Derive(Defaults(), Measurement{Taken: refTime, Chrony: d}, nil)
	if r.Status != chain.NTPSynced || r.MaxErrorNs != ChronyBound(d) {
		t.Fatalf("Derive = %+v", r)
	}
	t.Logf("recorded chronyd: %s, bound %dns (correction %dns, root delay %dns, dispersion %dns)",
		r.Status, r.MaxErrorNs, d.CurrentCorrectionNs, d.RootDelayNs, d.RootDispersionNs)

	// A stale reply (wrong sequence number) is refused, not believed.
	stale := replaySource(tr, ns, sd)
	stale.dial = func() (deadlineConn, error) {
		return &staleConn{replayConn{replies: map[uint16][]byte{reqTracking: tr}}}, nil
	}
	if d := stale.poll(time.Now); d.Reachable {
		t.Fatalf("a reply with the wrong sequence number was accepted: %+v", d)
	}
}

// staleConn answers with the request's sequence number minus one, like a
// late reply to the previous, timed-out request.
type staleConn struct{ replayConn }

func (c *staleConn) Read(p []byte) (int, error) {
	n, err := c.replayConn.Read(p)
	if n >= 20 {
		binary.BigEndian.PutUint32(p[16:20], binary.BigEndian.Uint32(p[16:20])-1)
	}
	return n, err
}

// FuzzChronyReply feeds arbitrary reply bytes through the path a poll
// takes (library decoding, sequence check, conversion, source selection)
// and Derive. Besides not panicking, a garbled reply may never yield a
// better status than the rules allow.
func FuzzChronyReply(f *testing.F) {
	tr, ns, sd := readFixtures(f)
	f.Add(tr, ns, sd, int64(0))
	f.Add(tr, ns, sd, int64(time.Hour))
	f.Add(tr[:50], ns, sd, int64(0))
	f.Add([]byte{}, []byte{}, []byte{}, int64(0))
	th := Defaults()
	f.Fuzz(func(t *testing.T, tracking, sources, sourceData []byte, ageNs int64) {
		s := replaySource(tracking, sources, sourceData)
		var now time.Time
		d := s.poll(func() time.Time { return now })
		if d.Reachable {
			now = d.RefTime.Add(time.Duration(ageNs))
			d = replaySource(tracking, sources, sourceData).poll(func() time.Time { return now })
		}
		if !d.Reachable {
			if d.Err == "" {
				t.Fatal("unreachable without a reason")
			}
			return
		}
		r := Derive(th, Measurement{Taken: now, Chrony: d}, nil)
		if r.MaxErrorNs < 0 {
			t.Fatalf("negative bound %d from %+v", r.MaxErrorNs, d)
		}
		if r.Status != chain.Unreliable {
			if !d.Selected || d.Leap == ChronyLeapUnsynchronised || d.RefID == ChronyRefIDLocal || r.MaxErrorNs > th.BestEffortMaxErrorNs ||
				d.LastUpdateAgeNs > int64(th.StaleCap) {
				t.Fatalf("%s from %+v", r.Status, d)
			}
		}
		if r.Status == chain.NTPSynced && r.MaxErrorNs > th.NTPMaxErrorNs {
			t.Fatalf("NTP_SYNCED with bound %d", r.MaxErrorNs)
		}
		if _, err := chain.AppendCanonical(nil, newSnapshot(1, th, Measurement{Taken: now, Chrony: d}, r).Evidence("")); err != nil {
			t.Fatalf("evidence does not canonicalize: %v", err)
		}
	})
}
