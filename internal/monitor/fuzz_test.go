package monitor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStateFile(t *testing.T) {
	st := &State{Format: StateFormat}
	l := st.log("b.example/log")
	l.Checkpoint = "b.example/log\n1\nAAAA\n\n— b.example/log sig\n"
	l.LastEvent = &EventMark{Index: 5, TimeNs: 1700000000000000000}
	l.setReplica(ReplicaState{URL: "https://z.example/", Size: 7, Since: formatStamp(t0), Verified: 7})
	l.setReplica(ReplicaState{URL: "https://a.example/", Size: 6, Since: formatStamp(t0.Add(time.Second))})
	st.log("a.example/log")
	path := filepath.Join(t.TempDir(), "state")
	if err := SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Logs[0].Origin != "a.example/log" || got.Logs[1].Replicas[0].URL != "https://a.example/" {
		t.Errorf("not sorted: %+v", got)
	}
	b, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	for _, bad := range []string{
		strings.Replace(string(b), StateFormat, "fixtap-monitor-state/2", 1),
		strings.Replace(string(b), `"Verified": 7,`, `"Verified": 7, "Verified": 8,`, 1),
		strings.Replace(string(b), `"Verified": 7,`, `"Verfied": 7,`, 1),
		strings.Replace(string(b), "\t", "  ", -1),
		string(b) + "{}",
		strings.Replace(string(b), "2026-03-02T14:00:00Z", "2026-03-02T15:00:00+01:00", 1),
		strings.Replace(string(b), `"URL": "https://a.example/"`, `"URL": "https://zz.example/"`, 1),
	} {
		if bad == string(b) {
			t.Fatal("the replacement did not apply")
		}
		if _, err := ParseState([]byte(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
	if st, err := LoadState(filepath.Join(t.TempDir(), "absent")); err != nil || len(st.Logs) != 0 {
		t.Errorf("absent file: %v %v", st, err)
	}
}

// FuzzParseState: no input panics; what parses is in canonical form.
func FuzzParseState(f *testing.F) {
	st := &State{Format: StateFormat}
	l := st.log(testOrigin)
	l.Checkpoint = testOrigin + "\n1\nAAAA\n"
	l.FIXSince = &EventMark{Index: 1, TimeNs: 2}
	l.setReplica(ReplicaState{URL: "https://a.example/", Size: 6, Since: formatStamp(t0), Sweep: 3})
	b, _ := st.Marshal()
	f.Add(b)
	f.Add([]byte(`{"Format":"fixtap-monitor-state/1","Logs":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseState(b)
		if err != nil {
			return
		}
		again, err := s.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("not canonical: %q → %q (%v)", b, again, err)
		}
	})
}

// FuzzParseEntryBundle: no input panics; entries re-encode to the input.
func FuzzParseEntryBundle(f *testing.F) {
	f.Add([]byte{0, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
	f.Add([]byte{0, 1, 7, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseEntryBundle(b)
		if err != nil {
			return
		}
		var again []byte
		for _, e := range es {
			again = append(again, byte(len(e)>>8), byte(len(e)))
			again = append(again, e...)
		}
		if !bytes.Equal(again, b) || len(es) > 256 {
			t.Fatalf("%x → %d entries → %x", b, len(es), again)
		}
	})
}

// FuzzParseEvent: no line panics; an accepted line hashes to its own
// EventHash (the property the data check rests on).
func FuzzParseEvent(f *testing.F) {
	l := newTestLog(f)
	l.addRun(3, true, t0, time.Second)
	l.add(false, t0.Add(time.Minute))
	for i, line := range l.lines {
		f.Add(line, int64(i))
	}
	f.Add([]byte(`{"Header":{},"Payload":{},"Security":{}}`), int64(0))
	f.Fuzz(func(t *testing.T, line []byte, i int64) {
		ev, err := parseEvent(line, i, nil)
		if err != nil {
			return
		}
		if i < 0 {
			t.Fatalf("accepted index %d", i)
		}
		if !bytes.HasPrefix(line, []byte(`{"Header":`)) || ev.TimeNs < 0 {
			t.Fatalf("accepted %q", line)
		}
	})
}

func TestParseEvent(t *testing.T) {
	l := newTestLog(t)
	l.addRun(2, true, t0, time.Second)
	l.add(false, t0.Add(time.Minute))
	for i, line := range l.lines {
		var prev *[32]byte
		if i > 0 {
			prev = &l.hashes[i-1]
		}
		ev, err := parseEvent(line, int64(i), prev)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Hash != l.hashes[i] || ev.FIX != (i < 2) {
			t.Errorf("line %d: %+v", i, ev)
		}
	}
	wrongPrev := l.hashes[0]
	wrongPrev[0] ^= 1
	for _, c := range []struct {
		line []byte
		i    int64
		prev *[32]byte
		msg  string
	}{
		{l.lines[1], 1, &wrongPrev, "PrevHash"},
		{l.lines[1], 2, nil, "MerkleIndex 1, at index 2"},
		{l.lines[1], 0, nil, "MerkleIndex"},
		{bytes.Replace(l.lines[1], []byte(`"EventType"`), []byte(` "EventType"`), 1), 1, nil, "hash to"},
		{bytes.Replace(l.lines[1], []byte(`{"Header":`), []byte(`{ "Header":`), 1), 1, nil, "canonical form"},
		{append(append([]byte{}, l.lines[1]...), ' '), 1, nil, "canonical form"},
		{bytes.Replace(l.lines[1], []byte(`,"Security":`), []byte(`,"Extra":{},"Security":`), 1), 1, nil, "unknown field"},
		{bytes.Replace(l.lines[1], []byte(`"EventHash":"`), []byte(`"EventHash":"A`), 1), 1, nil, "EventHash"},
	} {
		_, err := parseEvent(c.line, c.i, c.prev)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%.60q at %d: %v, want %q", c.line, c.i, err, c.msg)
		}
	}
}
