package tapconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
)

// Reconciliation (VCP-XREF, issue 9): sessions that hear the same
// executions from the firm (role INITIATOR, or OBSERVER) and from the
// counterparty (role COUNTERPARTY) join one group; internal/xref pairs
// their events by the group's match keys.
const (
	KeyXRefGroup       = "XRefGroup"
	KeyXRefRole        = "XRefRole"
	KeyXRefExecKeys    = "XRefExecKeys"
	KeyXRefOrderKeys   = "XRefOrderKeys"
	KeyXRefToleranceMs = "XRefToleranceMs"
	KeyXRefDeadline    = "XRefDeadline"
)

// Defaults of a reconciliation group.
const (
	DefaultXRefExecKeys    = "17,527" // ExecID, else SecondaryExecID
	DefaultXRefOrderKeys   = "11,37"  // ClOrdID, else OrderID
	DefaultXRefToleranceMs = 1000
	DefaultXRefDeadline    = 30 * time.Second
)

// XRefKeyTags maps the FIX tags a match key may name to the VCP-TRADE
// member that carries the tag verbatim: the reconciler and the verifier
// read the payload, not the raw message.
var XRefKeyTags = map[int]string{
	11: "ClOrdID", 17: "ExecID", 19: "ExecRefID", 37: "OrderID",
	41: "OrigClOrdID", 527: "SecondaryExecID", 571: "TradeReportID",
}

// XRefGroup is one reconciliation group.
type XRefGroup struct {
	Name string
	// Line is the XRefGroup line of the first session that joins it.
	Line int
	// LocalRole is the role of the firm's side: chain.RoleInitiator or
	// chain.RoleObserver (a group has one).
	LocalRole    string
	Local        []quickfix.SessionID
	Counterparty []quickfix.SessionID
	// ExecKeys match ExecutionReports, OrderKeys order copies (D, F, G):
	// VCP-TRADE member names, the first one present is the key.
	ExecKeys, OrderKeys []string
	ToleranceMs         int64
	Deadline            time.Duration
}

// xrefSession is a session's resolved reconciliation keys.
type xrefSession struct {
	group, role         string
	execKeys, orderKeys []string
	toleranceMs         int64
	deadline            time.Duration
	lines               map[string]int
}

// resolveXRef reads s's reconciliation keys (v: [SESSION] over
// [DEFAULT]); a session with no XRefGroup joins none.
func resolveXRef(el *errList, v view, s *Session) {
	x := xrefSession{lines: map[string]int{}, toleranceMs: DefaultXRefToleranceMs, deadline: DefaultXRefDeadline}
	get := func(k string) (string, bool) {
		val, line, set := v.get(k)
		x.lines[k] = line
		return val, set && valid(el, k, line)
	}
	group, hasGroup := get(KeyXRefGroup)
	role, hasRole := get(KeyXRefRole)
	if _, _, set := v.get(KeyXRefRole); set && !hasRole {
		return // an invalid role, already refused
	}
	switch {
	case hasRole && !hasGroup:
		el.add(x.lines[KeyXRefRole], KeyXRefRole, "set without %s: name the reconciliation group the session joins", KeyXRefGroup)
		return
	case hasGroup && !hasRole:
		el.add(x.lines[KeyXRefGroup], KeyXRefRole, "missing: a session in reconciliation group %q needs XRefRole (INITIATOR, COUNTERPARTY or OBSERVER)", group)
		return
	case !hasGroup:
		for _, k := range []string{KeyXRefExecKeys, KeyXRefOrderKeys, KeyXRefToleranceMs, KeyXRefDeadline} {
			if e, own := v.sec.vals[k]; own {
				el.add(e.line, k, "has no effect without %s", KeyXRefGroup)
			}
		}
		return
	}
	x.group, x.role = group, role
	x.execKeys, x.orderKeys = xrefTags(el, get, KeyXRefExecKeys, DefaultXRefExecKeys, x.lines), xrefTags(el, get, KeyXRefOrderKeys, DefaultXRefOrderKeys, x.lines)
	if val, ok := get(KeyXRefToleranceMs); ok {
		x.toleranceMs, _ = strconv.ParseInt(val, 10, 64)
	}
	if val, ok := get(KeyXRefDeadline); ok {
		x.deadline = mustDuration(val)
	}
	s.xref = &x
	s.XRefGroup, s.XRefRole = group, role
}

// xrefTags parses a comma list of FIX tags into VCP-TRADE member names.
func xrefTags(el *errList, get func(string) (string, bool), key, def string, lines map[string]int) []string {
	val, ok := get(key)
	if !ok {
		val = def
	}
	var out []string
	for _, f := range strings.Split(val, ",") {
		f = strings.TrimSpace(f)
		tag, err := strconv.Atoi(f)
		name, known := XRefKeyTags[tag]
		if err != nil || !known {
			el.add(lines[key], key, "%q is not a match key: want a comma list of FIX tags among %s", f, xrefTagList())
			return nil
		}
		if slices.Contains(out, name) {
			el.add(lines[key], key, "tag %d listed twice", tag)
			return nil
		}
		out = append(out, name)
	}
	return out
}

func xrefTagList() string {
	var tags []int
	for t := range XRefKeyTags {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = fmt.Sprintf("%d (%s)", t, XRefKeyTags[t])
	}
	return strings.Join(s, ", ")
}

// groupXRef builds the groups from the sessions, refusing groups whose
// sessions disagree on the group's settings or that lack a side.
func groupXRef(el *errList, f *File) []XRefGroup {
	var groups []XRefGroup
	idx := map[string]int{}
	first := map[string]*xrefSession{}
	for i := range f.Sessions {
		s := &f.Sessions[i]
		x := s.xref
		if x == nil {
			continue
		}
		gi, ok := idx[x.group]
		if !ok {
			gi = len(groups)
			idx[x.group] = gi
			first[x.group] = x
			if x.deadline <= time.Duration(x.toleranceMs)*time.Millisecond {
				el.add(x.lines[KeyXRefDeadline], KeyXRefDeadline, "deadline %v is not longer than XRefToleranceMs (%d ms): a copy within tolerance could time out", x.deadline, x.toleranceMs)
			}
			groups = append(groups, XRefGroup{Name: x.group, Line: x.lines[KeyXRefGroup], ExecKeys: x.execKeys, OrderKeys: x.orderKeys,
				ToleranceMs: x.toleranceMs, Deadline: x.deadline})
		}
		g := &groups[gi]
		fx := first[x.group]
		agree := func(k string, same bool) {
			if !same {
				el.add(x.lines[k], k, "sessions of reconciliation group %q must agree on %s (the [SESSION] at line %d differs): set it once, in [DEFAULT] or alike in each", x.group, k, g.Line)
			}
		}
		agree(KeyXRefExecKeys, slices.Equal(fx.execKeys, x.execKeys))
		agree(KeyXRefOrderKeys, slices.Equal(fx.orderKeys, x.orderKeys))
		agree(KeyXRefToleranceMs, fx.toleranceMs == x.toleranceMs)
		agree(KeyXRefDeadline, fx.deadline == x.deadline)
		if x.role == chain.RoleCounterparty {
			g.Counterparty = append(g.Counterparty, s.ID)
			continue
		}
		if g.LocalRole != "" && g.LocalRole != x.role {
			el.add(x.lines[KeyXRefRole], KeyXRefRole, "reconciliation group %q already has %s sessions: the firm's side has one role, INITIATOR or OBSERVER", x.group, g.LocalRole)
			continue
		}
		g.LocalRole = x.role
		g.Local = append(g.Local, s.ID)
	}
	for _, g := range groups {
		if len(g.Local) == 0 || len(g.Counterparty) == 0 {
			el.add(g.Line, KeyXRefGroup, "reconciliation group %q needs at least one session of role COUNTERPARTY and one of role INITIATOR or OBSERVER", g.Name)
		}
	}
	return groups
}
