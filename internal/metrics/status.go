package metrics

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tap"
)

// SealState follows the sealer and the anchorer for the metrics: the time
// each checkpoint was cut and, per TSA, the newest anchor and the failure
// episodes. Its On… methods are the seal.Config and seal.AnchorConfig hooks
// (called once per checkpoint or anchor, never per event); any goroutine.
type SealState struct {
	now    func() time.Time
	sealer atomic.Pointer[seal.Sealer]
	// checkpointAt is when the newest checkpoint was cut, as seen by this
	// process (unix ns); for one recovered on open, when Attach ran.
	checkpointAt atomic.Int64

	mu   sync.Mutex
	tsas map[string]*tsaState
}

type tsaState struct {
	anchoredAt time.Time // genTime of the newest anchor; zero before one
	failing    bool
	failures   uint64
}

// NewSealState makes a SealState reading time from now (clock.Wall).
func NewSealState(now func() time.Time) *SealState {
	return &SealState{now: now, tsas: map[string]*tsaState{}}
}

// Attach hands over the sealer once it exists, with the configured TSA
// URLs; the newest stored anchor of each sets its age (a scan of the
// stored anchors, once).
func (s *SealState) Attach(sl *seal.Sealer, tsaURLs []string) error {
	s.checkpointAt.Store(s.now().UnixNano())
	s.sealer.Store(sl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range tsaURLs {
		s.tsa(u)
	}
	as, err := sl.Anchors()
	if err != nil {
		return err
	}
	for _, a := range as {
		if t, err := time.Parse(time.RFC3339Nano, a.Timestamp); err == nil {
			if st := s.tsa(a.AnchorTarget.Identifier); t.After(st.anchoredAt) {
				st.anchoredAt = t
			}
		}
	}
	return nil
}

// tsa returns url's state, made on first use. s.mu is held.
func (s *SealState) tsa(url string) *tsaState {
	st := s.tsas[url]
	if st == nil {
		st = &tsaState{}
		s.tsas[url] = st
	}
	return st
}

// OnCheckpoint is seal.Config.OnCheckpoint.
func (s *SealState) OnCheckpoint(*seal.Checkpoint) { s.checkpointAt.Store(s.now().UnixNano()) }

// OnAnchor notes an anchor stored; chain the tap's AnchorEvent after it.
func (s *SealState) OnAnchor(r *seal.AnchorRecord) {
	t, err := time.Parse(time.RFC3339Nano, r.Timestamp)
	if err != nil {
		t = s.now() // a stored token always has a genTime; be safe anyway
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tsa(r.AnchorTarget.Identifier)
	st.failing = false
	if t.After(st.anchoredAt) {
		st.anchoredAt = t
	}
}

// OnFailure notes the start of a TSA's failure episode.
func (s *SealState) OnFailure(url string, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tsa(url)
	st.failing = true
	st.failures++
}

// Status is one read of everything the endpoint reports: what /metrics
// exports and the status page shows.
type Status struct {
	Taken    time.Time
	Ready    bool
	Sessions []tap.SessionStats

	Appended, Durable, Signed uint64
	WriteStalls               int64
	LogErr                    error
	CommitLatency             chain.LatencySnapshot

	ClockStatus chain.ClockSyncStatus
	ClockSource string
	// ClockMaxError is negative when no source measured a bound.
	ClockMaxError, ClockAge time.Duration
	ClockReason             string
	ClockFresh              bool // measured within Thresholds.MaxSnapshotAge

	TreeSize, CheckpointSize uint64
	HasCheckpoint            bool
	CheckpointAge            time.Duration
	Anchors                  []AnchorStatus

	// XRefWatermark and XRefOutcomes (MATCHED, DISCREPANCY, TIMEOUT
	// appended since start), when Config.XRef is set.
	XRefWatermark uint64
	XRefOutcomes  [3]uint64
}

// AnchorStatus is one TSA's anchoring.
type AnchorStatus struct {
	URL      string
	Anchored bool          // an anchor exists
	Age      time.Duration // since its genTime, when Anchored
	Failing  bool
	Failures uint64
}

// read takes a Status. Cheap: atomics, two short locks (the tap's session
// map and SealState) and the sealer's latest-checkpoint lock.
func (srv *Server) read() *Status {
	c := srv.cfg
	now := c.Now()
	st := &Status{Taken: now, Ready: srv.ready.Load()}
	if c.Tap != nil {
		st.Sessions = c.Tap.Stats()
	}
	if l := c.Log; l != nil {
		st.Appended, st.Durable, st.Signed = l.Committed(), l.Durable(), l.Signed()
		st.WriteStalls, st.LogErr = l.WriteStalls(), l.Err()
		st.CommitLatency = l.CommitLatency()
	}
	if c.Clock != nil {
		snap := c.Clock.Snapshot()
		st.ClockStatus, st.ClockSource, st.ClockReason = snap.Status, string(snap.Source), snap.Reason
		st.ClockMaxError = -1
		if snap.MaxErrorNs != clock.UnknownBound {
			st.ClockMaxError = time.Duration(snap.MaxErrorNs)
		}
		st.ClockAge = now.Sub(snap.Taken) // monotonic: both come from time.Now
		st.ClockFresh = st.ClockAge <= snap.Thresholds.MaxSnapshotAge
		if !st.ClockFresh {
			st.ClockStatus = chain.Unreliable // as Clock.Stamp stamps events now
		}
	}
	if x := c.XRef; x != nil {
		st.XRefWatermark = x.Watermark()
		st.XRefOutcomes[0], st.XRefOutcomes[1], st.XRefOutcomes[2] = x.Totals()
	}
	if ss := c.Seal; ss != nil {
		if sl := ss.sealer.Load(); sl != nil {
			st.TreeSize = sl.Size()
			if cp, err := sl.Latest(); err == nil {
				st.HasCheckpoint, st.CheckpointSize = true, cp.Size
				st.CheckpointAge = now.Sub(time.Unix(0, ss.checkpointAt.Load()))
			} else if !errors.Is(err, seal.ErrNoCheckpoint) {
				c.Logger.Warn("metrics: latest checkpoint", "err", err)
			}
		}
		ss.mu.Lock()
		for u, t := range ss.tsas {
			a := AnchorStatus{URL: u, Anchored: !t.anchoredAt.IsZero(), Failing: t.failing, Failures: t.failures}
			if a.Anchored {
				a.Age = now.Sub(t.anchoredAt)
			}
			st.Anchors = append(st.Anchors, a)
		}
		ss.mu.Unlock()
		slices.SortFunc(st.Anchors, func(a, b AnchorStatus) int {
			switch {
			case a.URL < b.URL:
				return -1
			case a.URL > b.URL:
				return 1
			}
			return 0
		})
	}
	return st
}
