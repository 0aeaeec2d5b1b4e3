package monitor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, c := range []struct{ in, canon string }{
		{"Mon-Fri 13:30-20:00 UTC", "Mon-Fri 13:30-20:00 UTC"},
		{"  Mon-Fri   13:30-20:00  UTC ", "Mon-Fri 13:30-20:00 UTC"},
		{"Sun-Thu 17:00-16:00 America/Chicago", "Sun-Thu 17:00-16:00 America/Chicago"},
		{"Mon,Wed,Fri 00:00-24:00 UTC", "Mon,Wed,Fri 00:00-24:00 UTC"},
		{"Fri-Mon 08:00-09:00 Europe/London", "Fri-Mon 08:00-09:00 Europe/London"},
		{"Mon-Sun 00:00-24:00 UTC", "Mon-Sun 00:00-24:00 UTC"},
		{"Tue,Mon 10:00-11:00 UTC", "Mon-Tue 10:00-11:00 UTC"},
		{"Sat,Sun,Mon 22:00-02:00 UTC", "Sat-Mon 22:00-02:00 UTC"},
	} {
		w, err := ParseWindow(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := w.String(); got != c.canon {
			t.Errorf("%q: String %q, want %q", c.in, got, c.canon)
		}
	}
	for _, c := range []struct{ in, msg string }{
		{"", "want three fields"},
		{"Mon-Fri 13:30-20:00", "want three fields"},
		{"Mon-Fry 13:30-20:00 UTC", `day "Fry"`},
		{"mon-fri 13:30-20:00 UTC", `day "mon"`},
		{"Mon-Mon 13:30-20:00 UTC", "same day"},
		{"Mon,Mon 13:30-20:00 UTC", "Mon listed twice"},
		{"Mon-Wed,Tue 13:30-20:00 UTC", "Tue listed twice"},
		{"Mon 13:30 UTC", "want HH:MM-HH:MM"},
		{"Mon 1:30-20:00 UTC", `start "1:30"`},
		{"Mon 13:30-20:60 UTC", `end "20:60"`},
		{"Mon 24:00-20:00 UTC", `start "24:00"`},
		{"Mon 13:30-24:01 UTC", `end "24:01"`},
		{"Mon 13:30-13:30 UTC", "equal"},
		{"Mon 00:00-00:00 UTC", "equal"},
		{"Mon +1:30-20:00 UTC", "digits"},
		{"Mon 13:30-20:00 Mars/Olympus", "not a known IANA zone"},
		{"Mon 13:30-20:00 Local", "want UTC or an IANA zone"},
		{"Mon 13:30-20:00 /etc/localtime", "want UTC or an IANA zone"},
		{"Mon 13:30-20:00 UTC extra", "want three fields"},
	} {
		_, err := ParseWindow(c.in)
		if !errors.Is(err, ErrWindow) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want an ErrWindow saying %q", c.in, err, c.msg)
		}
	}
	ws, err := ParseWindows("Mon-Fri 13:30-20:00 UTC; Sat 10:00-11:00 UTC")
	if err != nil || len(ws) != 2 {
		t.Fatalf("%v %v", ws, err)
	}
	if _, err := ParseWindows("Mon-Fri 13:30-20:00 UTC;"); err == nil {
		t.Error("an empty window after ';' was accepted")
	}
}

func TestWindowAt(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		window, at string
		in         bool
		open       string
	}{
		// 2026-03-02 is a Monday.
		{"Mon-Fri 13:30-20:00 UTC", "2026-03-02T13:29:59Z", false, ""},
		{"Mon-Fri 13:30-20:00 UTC", "2026-03-02T13:30:00Z", true, "2026-03-02T13:30:00Z"},
		{"Mon-Fri 13:30-20:00 UTC", "2026-03-02T19:59:59Z", true, "2026-03-02T13:30:00Z"},
		{"Mon-Fri 13:30-20:00 UTC", "2026-03-02T20:00:00Z", false, ""},
		{"Mon-Fri 13:30-20:00 UTC", "2026-03-07T14:00:00Z", false, ""}, // Saturday
		// Overnight: a Sunday-evening session still open on Monday morning,
		// none opening on Friday evening.
		{"Sun-Thu 17:00-16:00 America/Chicago", "2026-03-02T10:00:00Z", true, "2026-03-01T23:00:00Z"},
		{"Sun-Thu 17:00-16:00 America/Chicago", "2026-03-02T22:30:00Z", false, ""},                    // the daily break 16:00–17:00 CST
		{"Sun-Thu 17:00-16:00 America/Chicago", "2026-03-06T23:30:00Z", false, ""},                    // Friday 17:30 CST
		{"Sun-Thu 17:00-16:00 America/Chicago", "2026-03-06T21:59:00Z", true, "2026-03-05T23:00:00Z"}, // Friday 15:59 CST
		// Across the US daylight-saving change (Sunday 2026-03-08): the
		// Sunday session opens at 17:00 CDT = 22:00 UTC.
		{"Sun-Thu 17:00-16:00 America/Chicago", "2026-03-08T22:00:00Z", true, "2026-03-08T22:00:00Z"},
		{"Sun-Thu 17:00-16:00 America/Chicago", "2026-03-08T21:59:59Z", false, ""},
		{"Mon 20:00-24:00 UTC", "2026-03-02T23:59:59Z", true, "2026-03-02T20:00:00Z"},
		{"Mon 20:00-24:00 UTC", "2026-03-03T00:00:00Z", false, ""},
	} {
		w, err := ParseWindow(c.window)
		if err != nil {
			t.Fatal(err)
		}
		open, _, in := w.At(utc(c.at))
		if in != c.in || (in && !open.Equal(utc(c.open))) {
			t.Errorf("%s at %s: in %v open %v, want %v %s", c.window, c.at, in, open.UTC(), c.in, c.open)
		}
	}
}

// FuzzParseWindows: no input panics; a parsed window prints in a form
// that parses to the same window.
func FuzzParseWindows(f *testing.F) {
	for _, s := range []string{"Mon-Fri 13:30-20:00 UTC", "Sun-Thu 17:00-16:00 America/Chicago; Sat 00:00-24:00 UTC",
		"Fri-Mon 08:00-09:00 Europe/London", "Mon,Wed 01:02-03:04 UTC", "Mon 13:30-13:30 UTC", "Mon-Fry 1:30-20:00 X"} {
		f.Add(s)
	}
	probe := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := ParseWindows(s)
		if err != nil {
			if !errors.Is(err, ErrWindow) {
				t.Fatalf("%q: error %v does not wrap ErrWindow", s, err)
			}
			return
		}
		for _, w := range ws {
			again, err := ParseWindow(w.String())
			if err != nil {
				t.Fatalf("%q: String %q does not parse: %v", s, w.String(), err)
			}
			if again.String() != w.String() || again.days != w.days || again.start != w.start || again.end != w.end {
				t.Fatalf("%q: round trip %q → %q", s, w.String(), again.String())
			}
			for h := range 48 {
				at := probe.Add(time.Duration(h) * time.Hour)
				if open, close, ok := w.At(at); ok && (at.Before(open) || !at.Before(close)) {
					t.Fatalf("%s: At(%v) = [%v, %v)", w, at, open, close)
				}
			}
		}
	})
}
