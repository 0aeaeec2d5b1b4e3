package monitor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones (America/Chicago) on hosts without a zoneinfo database
)

// A Window is a recurring trading window during which the log must carry
// FIX-derived events (the silence check). Its syntax, one window:
//
//	window  = days SP start "-" end SP zone
//	days    = span *("," span)          ; Mon-Fri   Mon,Wed,Fri   Sun-Thu   Mon-Tue,Thu
//	span    = day / day "-" day         ; a range may wrap: Fri-Mon
//	day     = "Mon" / "Tue" / "Wed" / "Thu" / "Fri" / "Sat" / "Sun"
//	start   = HH ":" MM                 ; 00:00 to 23:59
//	end     = HH ":" MM                 ; 00:00 to 24:00
//	zone    = "UTC" / an IANA zone name ; America/Chicago
//
// A window opens on each listed day at start, local time in zone, and
// closes at end the same day — or, when end is not after start, the next
// day: "Sun-Thu 17:00-16:00 America/Chicago" is the CME Globex week (each
// session opens at 17:00 and closes at 16:00 the next day). "00:00-24:00"
// is a whole day; start = end is refused as ambiguous. Several windows are
// separated by ";" (ParseWindows) or given as repeated -window flags.
type Window struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes after local midnight; end in (0, 1440]
	loc        *time.Location
	zone       string
}

// ErrWindow is wrapped by every window syntax error.
var ErrWindow = errors.New("monitor: bad window")

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// maxWindowText caps what ParseWindows reads: a window is a short line.
const maxWindowText = 4096

// ParseWindows parses one or more windows separated by ";".
func ParseWindows(s string) ([]Window, error) {
	if len(s) > maxWindowText {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrWindow, len(s), maxWindowText)
	}
	var ws []Window
	for part := range strings.SplitSeq(s, ";") {
		w, err := ParseWindow(part)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// ParseWindow parses one window (see [Window] for the syntax). Fields are
// separated by spaces; errors quote the window and name the bad field.
func ParseWindow(s string) (Window, error) {
	bad := func(format string, args ...any) (Window, error) {
		return Window{}, fmt.Errorf("%w %q: %s", ErrWindow, strings.TrimSpace(s), fmt.Sprintf(format, args...))
	}
	if len(s) > maxWindowText {
		return bad("too long")
	}
	f := strings.Fields(s)
	if len(f) != 3 {
		return bad(`want three fields, "DAYS HH:MM-HH:MM ZONE", as in "Mon-Fri 13:30-20:00 UTC"`)
	}
	var w Window
	for span := range strings.SplitSeq(f[0], ",") {
		from, to, isRange := strings.Cut(span, "-")
		a, ok := parseDay(from)
		if !ok {
			return bad("day %q: want Mon, Tue, Wed, Thu, Fri, Sat or Sun", from)
		}
		b := a
		if isRange {
			if b, ok = parseDay(to); !ok {
				return bad("day %q: want Mon, Tue, Wed, Thu, Fri, Sat or Sun", to)
			}
			if a == b {
				return bad("day range %q: from and to are the same day; write %s", span, from)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			if w.days[d] {
				return bad("%s listed twice", dayNames[d])
			}
			w.days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return bad("times %q: want HH:MM-HH:MM", f[1])
	}
	var err error
	if w.start, err = parseHHMM(from, false); err != nil {
		return bad("start %q: %v", from, err)
	}
	if w.end, err = parseHHMM(to, true); err != nil {
		return bad("end %q: %v", to, err)
	}
	if w.start == w.end {
		return bad("start and end are equal (an empty or a 24-hour window?); write 00:00-24:00 for a whole day")
	}
	w.zone = f[2]
	if w.zone == "UTC" {
		w.loc = time.UTC
	} else {
		if w.zone == "Local" || strings.HasPrefix(w.zone, "/") || strings.Contains(w.zone, "..") {
			return bad("zone %q: want UTC or an IANA zone name such as America/Chicago", w.zone)
		}
		if w.loc, err = time.LoadLocation(w.zone); err != nil {
			return bad("zone %q: not a known IANA zone (%v)", w.zone, err)
		}
	}
	return w, nil
}

func parseDay(s string) (time.Weekday, bool) {
	for i, n := range dayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// parseHHMM parses exactly two digits, ":", two digits; 24:00 only as an end.
func parseHHMM(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, errors.New("want HH:MM")
	}
	h, err1 := strconv.ParseUint(s[:2], 10, 8)
	m, err2 := strconv.ParseUint(s[3:], 10, 8)
	if err1 != nil || err2 != nil || s[0] == '+' || s[3] == '+' {
		return 0, errors.New("want HH:MM in digits")
	}
	if h == 24 && m == 0 && end {
		return 24 * 60, nil
	}
	if h > 23 || m > 59 {
		return 0, errors.New("not a time of day (00:00 to 23:59, or 24:00 as an end)")
	}
	return int(h)*60 + int(m), nil
}

// String is the window in canonical form; ParseWindow(w.String()) == w.
func (w Window) String() string {
	var b strings.Builder
	first := true
	// Runs of consecutive days as ranges, starting after a day not listed
	// (so that Fri-Mon stays one range); all seven days are "Mon-Sun".
	start := time.Monday
	for d := time.Weekday(0); d < 7; d++ {
		if !w.days[d] {
			start = (d + 1) % 7
			break
		}
	}
	for i := 0; i < 7; {
		d := (start + time.Weekday(i)) % 7
		if !w.days[d] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.days[(start+time.Weekday(j+1))%7] {
			j++
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(dayNames[d])
		if j > i {
			b.WriteByte('-')
			b.WriteString(dayNames[(start+time.Weekday(j))%7])
		}
		i = j + 1
	}
	fmt.Fprintf(&b, " %02d:%02d-%02d:%02d %s", w.start/60, w.start%60, w.end/60, w.end%60, w.zone)
	return b.String()
}

// At reports whether t falls inside an occurrence of the window, and if so
// when that occurrence opened and closes. Occurrences are computed on the
// local calendar of the window's zone (time.Date normalizes times that a
// daylight-saving change skips).
func (w Window) At(t time.Time) (open, close time.Time, ok bool) {
	if w.loc == nil {
		return time.Time{}, time.Time{}, false
	}
	lt := t.In(w.loc)
	y, m, d := lt.Date()
	// An occurrence that opened today or yesterday may contain t.
	for back := 0; back <= 1; back++ {
		day := time.Date(y, m, d-back, 0, 0, 0, 0, w.loc)
		if !w.days[day.Weekday()] {
			continue
		}
		dy, dm, dd := day.Date()
		open = time.Date(dy, dm, dd, w.start/60, w.start%60, 0, 0, w.loc)
		endDay := dd
		if w.end <= w.start {
			endDay++
		}
		close = time.Date(dy, dm, endDay, w.end/60, w.end%60, 0, 0, w.loc)
		if !t.Before(open) && t.Before(close) {
			return open, close, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// inWindows returns the opening time of the earliest-opened occurrence of
// any window containing t.
func inWindows(ws []Window, t time.Time) (open time.Time, ok bool) {
	for _, w := range ws {
		if o, _, in := w.At(t); in && (!ok || o.Before(open)) {
			open, ok = o, true
		}
	}
	return open, ok
}
