package clock

import (
	"fmt"
	"strconv"
	"time"
)

// Evidence is the full snapshot in event form: the body of an SNC event
// (and the detail of an ERR_SYNC event). It canonicalizes with
// chain.AppendCanonical: every number that is not a small integer is a
// decimal string, times are RFC 3339 UTC with nine fraction digits, and
// there is no float anywhere.
type Evidence struct {
	RuleVersion string `json:"RuleVersion"`
	SnapshotSeq string `json:"SnapshotSeq"`
	// MeasuredAt is when the measurement finished (ns since the epoch and
	// the same instant in RFC 3339).
	MeasuredAtNs  string             `json:"MeasuredAtNs"`
	MeasuredAtISO string             `json:"MeasuredAtISO"`
	Status        string             `json:"Status"`
	PrevStatus    string             `json:"PrevStatus,omitempty"`
	Source        string             `json:"Source"`
	MaxErrorNs    string             `json:"MaxErrorNs"` // "" = no bound measured
	Reason        string             `json:"Reason"`
	Thresholds    ThresholdsEvidence `json:"Thresholds"`
	Chrony        *ChronyEvidence    `json:"Chrony,omitempty"`
	PTP           *PTPEvidence       `json:"PTP,omitempty"`
	Kernel        *KernelEvidence    `json:"Kernel,omitempty"`
	Wall          *WallEvidence      `json:"Wall,omitempty"`
}

// WallEvidence is how capture times are read (wallclock.go): CLOCK_MONOTONIC
// plus an offset to CLOCK_REALTIME, re-anchored whenever the wall clock is
// set, and the steps seen so far.
type WallEvidence struct {
	Method        string `json:"Method"`    // always "CLOCK_MONOTONIC+offset"
	Detection     string `json:"Detection"` // "timerfd" or "poll"
	OffsetNs      string `json:"OffsetNs"`
	UncertaintyNs string `json:"UncertaintyNs"`
	Steps         string `json:"Steps"`
	LastStepNs    string `json:"LastStepNs,omitempty"`
	LastStepAtNs  string `json:"LastStepAtNs,omitempty"`
	LastStepBy    string `json:"LastStepBy,omitempty"`
}

// ThresholdsEvidence records the thresholds a status was derived under.
type ThresholdsEvidence struct {
	PTPMaxErrorNs        string `json:"PTPMaxErrorNs"`
	PTPSamples           int    `json:"PTPSamples"`
	PTPClockClass        int    `json:"PTPClockClass"`
	PTPMaxAgeNs          string `json:"PTPMaxAgeNs"`
	NTPMaxErrorNs        string `json:"NTPMaxErrorNs"`
	BestEffortMaxErrorNs string `json:"BestEffortMaxErrorNs"`
	StaleFactor          int    `json:"StaleFactor"`
	StaleFloorNs         string `json:"StaleFloorNs"`
	StaleCapNs           string `json:"StaleCapNs"`
	MaxSnapshotAgeNs     string `json:"MaxSnapshotAgeNs"`
}

// ChronyEvidence is chronyd's tracking and selected source.
type ChronyEvidence struct {
	Reachable            bool   `json:"Reachable"`
	Error                string `json:"Error,omitempty"`
	RefID                string `json:"RefID,omitempty"` // 8 hex digits
	RefAddr              string `json:"RefAddr,omitempty"`
	Stratum              int    `json:"Stratum"`
	Leap                 int    `json:"Leap"`
	RefTimeISO           string `json:"RefTimeISO,omitempty"`
	LastUpdateAgeNs      string `json:"LastUpdateAgeNs"`
	LastUpdateIntervalNs string `json:"LastUpdateIntervalNs"`
	CurrentCorrectionNs  string `json:"CurrentCorrectionNs"`
	LastOffsetNs         string `json:"LastOffsetNs"`
	RMSOffsetNs          string `json:"RMSOffsetNs"`
	RootDelayNs          string `json:"RootDelayNs"`
	RootDispersionNs     string `json:"RootDispersionNs"`
	FreqPPB              string `json:"FreqPPB"`
	NumSources           int    `json:"NumSources"`
	Selected             bool   `json:"Selected"`
	SelectedAddr         string `json:"SelectedAddr,omitempty"`
	SelectedPoll         int    `json:"SelectedPoll"`
	SelectedReach        int    `json:"SelectedReach"`
	SinceSampleSec       string `json:"SinceSampleSec"`
}

// PTPEvidence is ptp4l's port, offset and grandmaster.
type PTPEvidence struct {
	Reachable          bool   `json:"Reachable"`
	Error              string `json:"Error,omitempty"`
	PortState          string `json:"PortState,omitempty"`
	MasterOffsetNs     string `json:"MasterOffsetNs"`
	OffsetFromMasterNs string `json:"OffsetFromMasterNs"`
	MeanPathDelayNs    string `json:"MeanPathDelayNs"`
	GMPresent          bool   `json:"GMPresent"`
	GMIdentity         string `json:"GMIdentity,omitempty"`
	ClockClass         int    `json:"ClockClass"`
	ClockAccuracy      int    `json:"ClockAccuracy"`
	AgeNs              string `json:"AgeNs"`
}

// KernelEvidence is the read-only adjtimex(2) view.
type KernelEvidence struct {
	Available  bool   `json:"Available"`
	Error      string `json:"Error,omitempty"`
	State      int    `json:"State"`
	Status     string `json:"Status"` // STA_* flags, "0x" + hex
	Unsync     bool   `json:"Unsync"`
	MaxErrorUs string `json:"MaxErrorUs"`
	EstErrorUs string `json:"EstErrorUs"`
	OffsetNs   string `json:"OffsetNs"`
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// isoNano formats t as RFC 3339 UTC with exactly nine fraction digits, the
// form of Header.TimestampISO.
func isoNano(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// Evidence returns the snapshot in event form; prev is the status of the
// snapshot before it ("" for none).
func (s *Snapshot) Evidence(prev string) Evidence {
	th := s.Thresholds
	e := Evidence{
		RuleVersion:   s.RuleVersion,
		SnapshotSeq:   strconv.FormatUint(s.Seq, 10),
		MeasuredAtNs:  i64(s.Taken.UnixNano()),
		MeasuredAtISO: isoNano(s.Taken),
		Status:        string(s.Status),
		PrevStatus:    prev,
		Source:        string(s.Source),
		MaxErrorNs:    boundString(s.MaxErrorNs),
		Reason:        s.Reason,
		Thresholds: ThresholdsEvidence{
			PTPMaxErrorNs:        i64(th.PTPMaxErrorNs),
			PTPSamples:           th.PTPSamples,
			PTPClockClass:        int(th.PTPClockClass),
			PTPMaxAgeNs:          i64(int64(th.PTPMaxAge)),
			NTPMaxErrorNs:        i64(th.NTPMaxErrorNs),
			BestEffortMaxErrorNs: i64(th.BestEffortMaxErrorNs),
			StaleFactor:          th.StaleFactor,
			StaleFloorNs:         i64(int64(th.StaleFloor)),
			StaleCapNs:           i64(int64(th.StaleCap)),
			MaxSnapshotAgeNs:     i64(int64(th.MaxSnapshotAge)),
		},
	}
	if c := s.Chrony; c != nil {
		ce := &ChronyEvidence{
			Reachable: c.Reachable, Error: c.Err, RefAddr: c.RefAddr,
			Stratum: int(c.Stratum), Leap: int(c.Leap),
			LastUpdateAgeNs:      i64(c.LastUpdateAgeNs),
			LastUpdateIntervalNs: i64(c.LastUpdateIntervalNs),
			CurrentCorrectionNs:  i64(c.CurrentCorrectionNs),
			LastOffsetNs:         i64(c.LastOffsetNs),
			RMSOffsetNs:          i64(c.RMSOffsetNs),
			RootDelayNs:          i64(c.RootDelayNs),
			RootDispersionNs:     i64(c.RootDispersionNs),
			FreqPPB:              i64(c.FreqPPB),
			NumSources:           c.NumSources,
			Selected:             c.Selected, SelectedAddr: c.SelectedAddr,
			SelectedPoll: int(c.SelectedPoll), SelectedReach: int(c.SelectedReach),
			SinceSampleSec: strconv.FormatUint(uint64(c.SinceSampleSec), 10),
		}
		if c.Reachable {
			ce.RefID = fmt.Sprintf("%08X", c.RefID)
		}
		if !c.RefTime.IsZero() {
			ce.RefTimeISO = isoNano(c.RefTime)
		}
		e.Chrony = ce
	}
	if p := s.PTP; p != nil {
		e.PTP = &PTPEvidence{
			Reachable: p.Reachable, Error: p.Err, PortState: p.PortState,
			MasterOffsetNs: i64(p.MasterOffsetNs), OffsetFromMasterNs: i64(p.OffsetFromMasterNs), MeanPathDelayNs: i64(p.MeanPathDelayNs),
			GMPresent: p.GMPresent, GMIdentity: p.GMIdentity,
			ClockClass: int(p.ClockClass), ClockAccuracy: int(p.ClockAccuracy), AgeNs: i64(p.AgeNs),
		}
	}
	if a := s.Adjtimex; a != nil {
		e.Kernel = &KernelEvidence{
			Available: a.Available, Error: a.Err, State: a.State,
			Status: "0x" + strconv.FormatUint(uint64(uint32(a.Status)), 16), Unsync: a.Unsync(),
			MaxErrorUs: i64(a.MaxErrorUs), EstErrorUs: i64(a.EstErrorUs), OffsetNs: i64(a.OffsetNs),
		}
	}
	if w := s.Wall; w != nil {
		we := &WallEvidence{
			Method: "CLOCK_MONOTONIC+offset", Detection: w.Detection,
			OffsetNs: i64(w.OffsetNs), UncertaintyNs: i64(w.UncertaintyNs),
			Steps: strconv.FormatUint(w.Steps, 10),
		}
		if w.Steps > 0 {
			we.LastStepNs, we.LastStepAtNs, we.LastStepBy = i64(w.LastStepNs), i64(w.LastStepAt), w.LastStepBy
		}
		e.Wall = we
	}
	return e
}
