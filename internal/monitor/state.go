package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// StateFormat is the first line's value of every state file: the version
// of its format. A file of another format is refused, not guessed at.
const StateFormat = "fixtap-monitor-state/1"

// maxStateFile caps what LoadState reads.
const maxStateFile = 16 << 20

// State is what a monitor remembers between rounds and across restarts: per
// origin, the last checkpoint it verified and what it knows of each replica.
// It is stored as indented JSON, exactly as [State.Marshal] writes it — a
// file in any other form (unknown or duplicate keys, another order, other
// spacing) is refused by [ParseState], so a hand-edited file is noticed.
// The checkpoint is kept as the signed note and verified again with the
// log's key when loaded, so a state file cannot smuggle in a tree head.
type State struct {
	Format string
	Logs   []LogState // sorted by Origin, unique
}

// LogState is the monitor's memory of one log.
type LogState struct {
	Origin string
	// Checkpoint is the newest checkpoint the monitor verified (signature,
	// consistency): the signed note as a replica served it.
	Checkpoint string
	// LastEvent is the newest event the monitor has read (any type), and
	// FIXSince the capture time of the newest FIX-derived event — or, when
	// none was found looking back, the earliest time from which the monitor
	// knows there was none. Both absent until events were read.
	LastEvent *EventMark     `json:",omitempty"`
	FIXSince  *EventMark     `json:",omitempty"`
	Replicas  []ReplicaState // sorted by URL, unique
}

// EventMark is an event's log index and capture time (Header.TimestampInt,
// nanoseconds since the Unix epoch).
type EventMark struct {
	Index  uint64
	TimeNs int64
}

// ReplicaState is the monitor's memory of one replica.
type ReplicaState struct {
	URL string
	// Size is the tree size of the checkpoint the replica served last, and
	// Since when the monitor first saw it serve that size (RFC 3339, UTC).
	Size  uint64
	Since string
	// Verified: the replica's entries, hash tiles and events below it have
	// been checked against a signed root, up to Verified (from where the
	// monitor first started, or 0); Sweep is the next entry bundle the
	// background sweep re-checks.
	Verified uint64
	Sweep    uint64
}

// Marshal returns the state in its one accepted form.
func (s *State) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("monitor: state: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseState decodes a state file strictly (see [State]). It does not
// verify checkpoints: the monitor does that with the log's key.
func ParseState(b []byte) (*State, error) {
	if len(b) > maxStateFile {
		return nil, fmt.Errorf("monitor: state: %d bytes, at most %d", len(b), maxStateFile)
	}
	var s State
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return nil, fmt.Errorf("monitor: state: %w", err)
	}
	if s.Format != StateFormat {
		return nil, fmt.Errorf("monitor: state: format %q, want %q", s.Format, StateFormat)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	canon, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, errors.New("monitor: state: not in canonical form (edited by hand? duplicate or reordered keys, other spacing)")
	}
	return &s, nil
}

func (s *State) validate() error {
	for i, l := range s.Logs {
		if l.Origin == "" {
			return errors.New("monitor: state: a log with an empty origin")
		}
		if i > 0 && s.Logs[i-1].Origin >= l.Origin {
			return fmt.Errorf("monitor: state: logs not sorted by origin or repeated at %q", l.Origin)
		}
		for j, r := range l.Replicas {
			if r.URL == "" {
				return fmt.Errorf("monitor: state: log %q: a replica with an empty URL", l.Origin)
			}
			if j > 0 && l.Replicas[j-1].URL >= r.URL {
				return fmt.Errorf("monitor: state: log %q: replicas not sorted by URL or repeated at %q", l.Origin, r.URL)
			}
			if _, err := parseStamp(r.Since); err != nil {
				return fmt.Errorf("monitor: state: log %q: replica %q: Since: %w", l.Origin, r.URL, err)
			}
		}
	}
	return nil
}

func formatStamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseStamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if formatStamp(t) != s {
		return time.Time{}, fmt.Errorf("%q is not canonical RFC 3339 UTC", s)
	}
	return t, nil
}

// log returns the state of origin, adding an empty one if absent.
func (s *State) log(origin string) *LogState {
	i, found := slices.BinarySearchFunc(s.Logs, origin, func(l LogState, o string) int { return strings.Compare(l.Origin, o) })
	if !found {
		s.Logs = slices.Insert(s.Logs, i, LogState{Origin: origin})
	}
	return &s.Logs[i]
}

// replica returns the state of the replica at url, or nil.
func (l *LogState) replica(url string) *ReplicaState {
	i, found := slices.BinarySearchFunc(l.Replicas, url, func(r ReplicaState, u string) int { return strings.Compare(r.URL, u) })
	if !found {
		return nil
	}
	return &l.Replicas[i]
}

// setReplica stores r, replacing the state of the same URL.
func (l *LogState) setReplica(r ReplicaState) {
	i, found := slices.BinarySearchFunc(l.Replicas, r.URL, func(r ReplicaState, u string) int { return strings.Compare(r.URL, u) })
	if found {
		l.Replicas[i] = r
	} else {
		l.Replicas = slices.Insert(l.Replicas, i, r)
	}
}

// LoadState reads the state file at path; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{Format: StateFormat}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("monitor: state: %w", err)
	}
	defer f.Close()
	b, err := readAllMax(f, maxStateFile)
	if err != nil {
		return nil, fmt.Errorf("monitor: state %s: %w", path, err)
	}
	s, err := ParseState(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return s, nil
}

// SaveState writes the state to path crash-safely: a temporary file in the
// same directory, fsync, rename over path, fsync of the directory — so
// after a crash the file is the old state or the new one, never a mix.
func SaveState(path string, s *State) error {
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("monitor: state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("monitor: state: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("monitor: state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("monitor: state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("monitor: state: %w", err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("monitor: state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("monitor: state: fsync %s: %w", dir, err)
	}
	return nil
}
