package tap

import (
	"fmt"
	"sync"

	"github.com/fixtap/fixtap/internal/chain"
)

// Events the tap originates about itself rather than a FIX session (the
// clock's snapshots) are stamped through a session-less identity.
type selfEvents struct {
	mu sync.Mutex
	s  *session
}

func (t *Tap) self() *session {
	t.selfEv.mu.Lock() // held by the caller until the event is queued
	if t.selfEv.s == nil {
		t.selfEv.s = &session{name: "fixtap", ids: chain.NewIDGen(), venue: t.cfg.VenueID, policy: t.cfg.Policy}
	}
	return t.selfEv.s
}

// ClockEvent records a clock snapshot as an SNC event carrying the full
// evidence (on every status change and at least once a minute, profile §5),
// and a degradation also as an ERR event (ERR_SYNC). It may be called from
// any goroutine.
func (t *Tap) ClockEvent(status, prev chain.ClockSyncStatus, degraded bool, evidence any, reason string) {
	s := t.self()
	defer t.selfEv.mu.Unlock()
	h, clk := t.header(s, chain.SNC, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{Clock: clk, ClockEvidence: evidence, PolicyIdentification: &s.policy}})
	if !degraded {
		return
	}
	h, clk = t.header(s, chain.ERR, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{Clock: clk, PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{ErrorCode: "ERR_SYNC", Severity: "WARNING", AffectedComponent: "clock",
			ErrorMessage: fmt.Sprintf("clock status degraded from %s to %s: %s", prev, status, reason)}}})
}

// AnchorEvent records an anchor (an RFC 3161 token stored for a
// checkpoint) as an AUD event carrying its AnchorRecord, so that the next
// checkpoint seals the anchor itself. Any goroutine.
func (t *Tap) AnchorEvent(record any) {
	s := t.self()
	defer t.selfEv.mu.Unlock()
	h, clk := t.header(s, chain.AUD, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{Clock: clk, AnchorRecord: record, PolicyIdentification: &s.policy}})
}

// AnchorFailure records the start of a TSA failure episode (one event per
// episode, not per retry) as an ERR event. Any goroutine.
func (t *Tap) AnchorFailure(url string, err error) {
	s := t.self()
	defer t.selfEv.mu.Unlock()
	h, clk := t.header(s, chain.ERR, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{Clock: clk, PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{ErrorCode: "ERR_SYSTEM", Severity: "WARNING", AffectedComponent: "anchor " + url,
			ErrorMessage: fmt.Sprintf("time-stamping authority failing; retrying with backoff, the next success anchors the newest checkpoint: %.300s", err)}}})
}

// ComponentError records a failure of a part behind the log — a replica
// store, a witness — as an ERR event (ERR_SYSTEM) naming the component.
// Callers call it once per failure episode, not per retry, and with
// Severity CRITICAL for evidence conflicts (a replica holding other bytes
// than ours, a witness refusing our checkpoint as inconsistent).
// Any goroutine.
func (t *Tap) ComponentError(component, severity, message string) {
	s := t.self()
	defer t.selfEv.mu.Unlock()
	h, clk := t.header(s, chain.ERR, nil, "", "")
	t.append(s, &chain.Entry{Header: h, Payload: chain.Payload{Clock: clk, PolicyIdentification: &s.policy,
		ErrorDetails: &chain.ErrorDetails{ErrorCode: "ERR_SYSTEM", Severity: severity, AffectedComponent: component,
			ErrorMessage: fmt.Sprintf("%.400s", message)}}})
}
