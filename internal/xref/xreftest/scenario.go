// Package xreftest is issue 9's reconciliation scenario, shared by the
// tests that need it: the firm's and the venue's drop copies of the same
// loadgen day with one injected fault each, and the check of a
// reconciler's outcomes against it. internal/xref's tests log the copies
// straight into a chain.Log; cmd/fixtap's kill -9 test sends them over
// FIX to a real `fixtap run` (loadgen.Config.Messages).
package xreftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// Copy is one side's copy of one generator message.
type Copy struct {
	Index   int    // the generator message it copies
	MsgType string // "8", or "D" for an order copy
	Body    []byte // the fields after the standard header
	PossDup bool
	At      time.Duration // when it is captured (or sent), from the scenario's start
}

// Faults are the generator message indexes of the injected faults.
type Faults struct {
	VenueOnly   int // a fill only the venue reports: TIMEOUT, expecting the firm
	PriceTick   int // the venue's LastPx (31) one tick (0.0001) higher: ExecutionPrice CRITICAL
	QtyOff      int // the firm's LastQty (32) 100 more: ExecutedQty CRITICAL
	Late        int // the venue's copy Timing.Late after the firm's: CaptureTime WARNING
	Dup         int // the firm sends this fill again three messages later, PossDup=Y: PossDupFlag INFO
	DecimalForm int // the venue writes OrderQty (38) as "N.0": the same quantity, MATCHED
}

// Timing places the copies in time. The late copy's lag must exceed the
// group's tolerance, and the deadline must exceed it.
type Timing struct {
	Step     time.Duration // between two generator messages
	VenueLag time.Duration // the venue's copy after the firm's
	Late     time.Duration // the late copy's lag instead
}

// Scenario builds the firm's and the venue's copies of loadgen's first n
// messages (seed 42: orders, acks, fills, cancels, replaces, rejects,
// busts) with the faults injected. The firm's copy of message k is at
// k×Step, the venue's VenueLag later; each side is in the order of At (as
// one session delivers it).
func Scenario(n int, tm Timing) (firm, venue []Copy, f Faults, err error) {
	g := loadgen.NewGenerator(42)
	bodies := make([][]byte, n)
	f = Faults{VenueOnly: -1, PriceTick: -1, QtyOff: -1, Late: -1, Dup: -1, DecimalForm: -1}
	for i := range bodies {
		bodies[i] = g.Next()
		isFill := bytes.Contains(bodies[i], []byte("\x01150=F\x01"))
		switch {
		case i > n/10 && isFill && f.VenueOnly < 0:
			f.VenueOnly = i
		case i > n/5 && isFill && f.PriceTick < 0:
			f.PriceTick = i
		case i > n/4 && isFill && f.QtyOff < 0:
			f.QtyOff = i
		case i > n/3 && isFill && f.Late < 0:
			f.Late = i
		case i > n/2 && isFill && f.Dup < 0:
			f.Dup = i
		case i > 2*n/3 && bytes.HasPrefix(bodies[i], []byte("37=")) && f.DecimalForm < 0:
			f.DecimalForm = i
		}
	}
	if slices.Contains([]int{f.VenueOnly, f.PriceTick, f.QtyOff, f.Late, f.Dup, f.DecimalForm}, -1) || f.Dup+3 >= n {
		return nil, nil, f, fmt.Errorf("xreftest: a scenario of %d messages lacks a fault: %+v", n, f)
	}
	for i, body := range bodies {
		msgType := "8"
		if !bytes.HasPrefix(body, []byte("37=")) {
			msgType = "D" // the generator's order copies start with 11=
		}
		at := time.Duration(i) * tm.Step
		fb, vb := body, body
		switch i {
		case f.PriceTick:
			vb = replaceTag(vb, 31, AddTick)
		case f.QtyOff:
			fb = replaceTag(fb, 32, func(v string) string { n, _ := strconv.Atoi(v); return strconv.Itoa(n + 100) })
		case f.DecimalForm:
			vb = replaceTag(vb, 38, func(v string) string { return v + ".0" })
		}
		if i != f.VenueOnly {
			firm = append(firm, Copy{Index: i, MsgType: msgType, Body: fb, At: at})
		}
		vat := at + tm.VenueLag
		if i == f.Late {
			vat = at + tm.Late
		}
		venue = append(venue, Copy{Index: i, MsgType: msgType, Body: vb, At: vat})
		if i == f.Dup+3 {
			firm = append(firm, Copy{Index: f.Dup, MsgType: "8", Body: bodies[f.Dup], PossDup: true, At: at + 1})
		}
	}
	slices.SortStableFunc(venue, func(a, b Copy) int { return int(a.At - b.At) })
	return firm, venue, f, nil
}

// replaceTag returns body with tag's value v replaced by fn(v).
func replaceTag(body []byte, tag int, fn func(string) string) []byte {
	fs := strings.Split(string(body), "\x01")
	p := strconv.Itoa(tag) + "="
	for i, f := range fs {
		if v, ok := strings.CutPrefix(f, p); ok {
			fs[i] = p + fn(v)
			return []byte(strings.Join(fs, "\x01"))
		}
	}
	panic(fmt.Sprintf("xreftest: tag %d not in %q", tag, body))
}

// AddTick adds 0.0001 to a price of four decimals.
func AddTick(v string) string {
	i, f, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(i + f)
	s := strconv.Itoa(n + 1)
	return s[:len(s)-4] + "." + s[len(s)-4:]
}

// Expect is what Check needs to know of the group.
type Expect struct {
	Local, Counterparty string // the sessions, as FIX.SessionID spells them
	ToleranceMs         int64
	DeadlineMs          int64
	VenueCopies         int // len(venue) of Scenario
}

// Check checks the outcomes of a scenario: one per venue copy and one for
// the duplicate; exactly one TIMEOUT (the venue-only fill, expecting the
// firm) and four DISCREPANCYs (ExecutionPrice and ExecutedQty CRITICAL,
// CaptureTime WARNING, PossDupFlag INFO), each with that one detail; the
// rest MATCHED, on one key. Every problem found is in the error.
func Check(got []chain.XRef, e Expect) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	byStatus := map[string][]chain.XRef{}
	for _, x := range got {
		byStatus[x.ReconciliationStatus] = append(byStatus[x.ReconciliationStatus], x)
	}
	if n, want := len(got), e.VenueCopies+1; n != want {
		bad("%d outcomes, want %d (one per venue copy, and the duplicate)", n, want)
	}
	if to := byStatus[chain.XRefTimeout]; len(to) != 1 {
		bad("%d TIMEOUTs, want 1: %+v", len(to), to)
	} else if x := to[0]; x.LocalEventID != "" || x.CounterpartyEventID == "" || x.Timeout == nil || x.Timeout.ExpectedRole != chain.RoleInitiator ||
		x.Timeout.Reason != "deadline" || !slices.Equal(x.Timeout.ExpectedSessions, []string{e.Local}) || x.Timeout.DeadlineMs != e.DeadlineMs {
		bad("TIMEOUT %+v %+v", x, x.Timeout)
	}
	disc := byStatus[chain.XRefDiscrepancy]
	if len(disc) != 4 {
		bad("%d DISCREPANCYs, want 4 (price, quantity, late, duplicate): %+v", len(disc), disc)
	}
	fields := map[string]bool{}
	for _, x := range disc {
		if len(x.DiscrepancyDetails) != 1 {
			bad("a discrepancy with %d details: %+v", len(x.DiscrepancyDetails), x.DiscrepancyDetails)
			continue
		}
		d := x.DiscrepancyDetails[0]
		fields[d.Field] = true
		switch d.Field {
		case "ExecutionPrice":
			if AddTick(d.LocalValue) != d.CounterpartyValue || d.Severity != chain.SeverityCritical {
				bad("price detail %+v", d)
			}
		case "ExecutedQty":
			if d.Severity != chain.SeverityCritical || d.LocalValue == "" || d.LocalValue == d.CounterpartyValue {
				bad("quantity detail %+v", d)
			}
		case "CaptureTime":
			l, _ := strconv.ParseInt(d.LocalValue, 10, 64)
			c, _ := strconv.ParseInt(d.CounterpartyValue, 10, 64)
			if d.Severity != chain.SeverityWarning || c-l <= e.ToleranceMs*int64(time.Millisecond) {
				bad("late detail %+v", d)
			}
		case "PossDupFlag":
			if d.Severity != chain.SeverityInfo || d.LocalValue != "Y" || x.RepeatsEventID == "" || x.LocalEventID == x.RepeatsEventID || x.CounterpartyEventID != "" {
				bad("duplicate %+v", x)
			}
		default:
			bad("unexpected discrepancy %+v", d)
		}
	}
	if len(fields) != 4 {
		bad("discrepancy fields %v", fields)
	}
	for _, x := range byStatus[chain.XRefMatched] {
		if x.LocalEventID == "" || x.CounterpartyEventID == "" || x.LocalEventHash == "" || x.PartyRole != chain.RoleInitiator ||
			x.CounterpartyID != e.Counterparty || len(x.SharedEventKey.AlternateKeys) != 1 || x.SharedEventKey.ToleranceMs != e.ToleranceMs {
			bad("MATCHED %+v", x)
			break
		}
		if k := x.SharedEventKey.AlternateKeys[0]; !strings.HasPrefix(k, "ExecID=") && !strings.HasPrefix(k, "ClOrdID=") {
			bad("MATCHED on key %q", k)
			break
		}
	}
	return errors.Join(errs...)
}

// Normal is an outcome as two runs over the same copies must agree on it:
// status, group, roles, keys, details and what was expected, without what
// differs from run to run (CrossReferenceID, EventIDs and hashes, capture
// times) — which events are named is kept as whether they are.
func Normal(x chain.XRef) string {
	present := func(s *string) {
		if *s != "" {
			*s = "*"
		}
	}
	x.CrossReferenceID, x.SharedEventKey.Timestamp = "", ""
	for _, s := range []*string{&x.LocalEventID, &x.LocalEventHash, &x.CounterpartyEventID, &x.CounterpartyEventHash, &x.RepeatsEventID, &x.RepeatsEventHash} {
		present(s)
	}
	x.DiscrepancyDetails = slices.Clone(x.DiscrepancyDetails)
	for i, d := range x.DiscrepancyDetails {
		if d.Field == "CaptureTime" {
			x.DiscrepancyDetails[i].LocalValue, x.DiscrepancyDetails[i].CounterpartyValue = "", ""
		}
	}
	b, _ := json.Marshal(&x)
	return string(b)
}
