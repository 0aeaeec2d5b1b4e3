package tapconfig

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// xrefFile is minimalTemplate (lines 1-13) with the acceptor in group G as
// the firm's side and a second acceptor from the venue (lines 14-19);
// extra is appended to the first session (line 14 on).
func xrefFile(dir, firstExtra, venueExtra string) string {
	return minimal(dir) + "XRefGroup=G\nXRefRole=INITIATOR\n" + firstExtra +
		"[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9878\nTargetCompID=VENUE\nXRefGroup=G\n" + venueExtra
}

func TestXRefGroup(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	text := xrefFile(dir, "", "XRefRole=COUNTERPARTY\nXRefToleranceMs=250\n") // tolerance differs: refused below
	if _, err := Parse("x.cfg", strings.NewReader(text)); err == nil || !strings.Contains(err.Error(), `x.cfg:22: key "XRefToleranceMs": sessions of reconciliation group "G" must agree`) {
		t.Fatalf("disagreeing tolerance: %v", err)
	}
	text = strings.Replace(xrefFile(dir, "", "XRefRole=COUNTERPARTY\n"), "[DEFAULT]\n", "[DEFAULT]\nXRefToleranceMs=250\nXRefDeadline=5s\nXRefExecKeys=527, 17\n", 1)
	f, err := Parse("x.cfg", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.XRefGroups) != 1 {
		t.Fatalf("groups %+v", f.XRefGroups)
	}
	g := f.XRefGroups[0]
	if g.Name != "G" || g.LocalRole != "INITIATOR" || len(g.Local) != 1 || g.Local[0].TargetCompID != "OMS1" ||
		len(g.Counterparty) != 1 || g.Counterparty[0].TargetCompID != "VENUE" ||
		!slices.Equal(g.ExecKeys, []string{"SecondaryExecID", "ExecID"}) || !slices.Equal(g.OrderKeys, []string{"ClOrdID", "OrderID"}) ||
		g.ToleranceMs != 250 || g.Deadline != 5*time.Second {
		t.Errorf("group %+v", g)
	}
	if f.Sessions[1].XRefRole != "COUNTERPARTY" || f.Sessions[1].XRefGroup != "G" {
		t.Errorf("session %+v", f.Sessions[1])
	}
	if _, err := f.QuickfixSettings(Acceptor); err != nil {
		t.Errorf("QuickfixSettings: %v", err) // the XRef keys stay with the tap
	}
}

func TestXRefBroken(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	cases := []struct {
		name, text string
		want       []wantErr
	}{
		{"no counterparty", xrefFile(dir, "", "XRefRole=INITIATOR\n"),
			[]wantErr{{14, "XRefGroup", "needs at least one session of role COUNTERPARTY", ""}}},
		{"role without group", minimal(dir) + "XRefRole=INITIATOR\n",
			[]wantErr{{14, "XRefRole", "set without XRefGroup", ""}}},
		{"group without role", xrefFile(dir, "", ""),
			[]wantErr{{20, "XRefRole", "missing", ""}, {14, "XRefGroup", "needs at least one", ""}}},
		{"bad role", xrefFile(dir, "", "XRefRole=VENUE\n"),
			[]wantErr{{21, "XRefRole", "want one of INITIATOR, COUNTERPARTY, OBSERVER", ""}, {14, "XRefGroup", "needs at least one", ""}}},
		{"unknown tag", xrefFile(dir, "XRefExecKeys=17,55\n", "XRefRole=COUNTERPARTY\nXRefExecKeys=17,55\n"),
			[]wantErr{{16, "XRefExecKeys", `"55" is not a match key`, ""}, {23, "XRefExecKeys", `"55" is not a match key`, ""}}},
		{"mixed local roles", xrefFile(dir, "", "XRefRole=COUNTERPARTY\n") + "[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9878\nTargetCompID=OMS2\nXRefGroup=G\nXRefRole=OBSERVER\n",
			[]wantErr{{27, "XRefRole", "already has INITIATOR sessions", ""}}},
		{"deadline within tolerance", strings.Replace(xrefFile(dir, "", "XRefRole=COUNTERPARTY\n"), "[DEFAULT]\n", "[DEFAULT]\nXRefDeadline=1s\n", 1),
			[]wantErr{{2, "XRefDeadline", "is not longer than XRefToleranceMs", ""}}},
		{"tolerance without group", minimal(dir) + "XRefToleranceMs=5\n",
			[]wantErr{{14, "XRefToleranceMs", "has no effect without XRefGroup", ""}}},
		{"group in DEFAULT", strings.Replace(minimal(dir), "[DEFAULT]\n", "[DEFAULT]\nXRefGroup=G\n", 1),
			[]wantErr{{2, "XRefGroup", "not allowed in [DEFAULT]", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.cfg", strings.NewReader(c.text))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.text)
			}
			got := checkErrShape(t, "x.cfg", err)
			if len(got) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(c.want), err)
			}
			for _, w := range c.want {
				found := false
				for _, g := range got {
					found = found || (g.Line == w.line && g.Key == w.key && strings.Contains(g.Msg, w.msg))
				}
				if !found {
					t.Errorf("missing error line %d key %q %q in\n%v", w.line, w.key, w.msg, err)
				}
			}
		})
	}
}
