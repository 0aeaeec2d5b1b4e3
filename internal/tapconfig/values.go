package tapconfig

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checkValue checks val against spec's kind, returning a message for the
// Error or "". File kinds are checked for existence here too.
func checkValue(spec *keySpec, val string) string {
	switch spec.kind {
	case kString, kList:
		return ""
	case kInt, kPosInt:
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || (spec.kind == kPosInt && n == 0) {
			if spec.kind == kPosInt {
				return fmt.Sprintf("value %q: want a whole number greater than 0", val)
			}
			return fmt.Sprintf("value %q: want a whole number ≥ 0", val)
		}
	case kBool:
		if val != "Y" && val != "N" {
			return fmt.Sprintf("value %q: want Y or N", val)
		}
	case kDuration:
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return fmt.Sprintf("value %q: want a positive duration such as 5ms or 1s", val)
		}
	case kSeconds:
		if n, err := strconv.Atoi(val); err == nil && n > 0 {
			return ""
		}
		if d, err := time.ParseDuration(val); err == nil && d > 0 {
			return ""
		}
		return fmt.Sprintf("value %q: want whole seconds (e.g. 30) or a duration (e.g. 30s)", val)
	case kPort:
		if _, ok := parsePort(val); !ok {
			return fmt.Sprintf("value %q: want a TCP port number 1-65535", val)
		}
	case kEnum:
		if !slices.Contains(spec.enum, val) {
			return fmt.Sprintf("value %q: want one of %s", val, strings.Join(spec.enum, ", "))
		}
	case kFile:
		return checkFile(val)
	case kPath:
		if !filepath.IsAbs(val) {
			return fmt.Sprintf("value %q: want an absolute path", val)
		}
	case kHostPort:
		if _, _, ok := splitHostPort(val); !ok {
			return fmt.Sprintf("value %q: want host:port with a port 1-65535 (host may be empty for all interfaces)", val)
		}
	case kTimeOfDay:
		if _, err := time.Parse("15:04:05", val); err != nil || len(val) != 8 {
			return fmt.Sprintf("value %q: want a time of day HH:MM:SS", val)
		}
	case kDay:
		for _, d := range []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"} {
			if val == d || val == d[:3] {
				return ""
			}
		}
		return fmt.Sprintf("value %q: want a day name such as Sunday or Sun", val)
	case kTimeZone:
		if val == "Local" {
			return fmt.Sprintf("value %q: name the zone (e.g. UTC or America/Chicago); Local depends on the host", val)
		}
		if _, err := time.LoadLocation(val); err != nil {
			return fmt.Sprintf("value %q: unknown time zone", val)
		}
	}
	return ""
}

// checkFile checks that path is absolute and names a readable regular file.
func checkFile(path string) string {
	if !filepath.IsAbs(path) {
		return fmt.Sprintf("value %q: want an absolute path", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Sprintf("file %s does not exist", path)
		}
		return fmt.Sprintf("file %s: %v", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Sprintf("file %s is not a regular file", path)
	}
	return ""
}

func parsePort(s string) (int, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}

func splitHostPort(s string) (host string, port int, ok bool) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, false
	}
	n, ok := parsePort(p)
	return h, n, ok
}

// checkTSAURL checks an RFC 3161 TSA URL.
func checkTSAURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("value %q: want an http or https URL", redactURL(s))
	}
	return ""
}

// redactURL hides a password in a URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return "<unparseable URL redacted>"
		}
		return s
	}
	return u.Redacted()
}

// ClockSource is one entry of ClockSources.
type ClockSource struct {
	// Kind is chrony-udp, chrony-unix, ptp4l or adjtimex.
	Kind string
	// Addr is HOST:PORT for chrony-udp, a socket path for chrony-unix and
	// ptp4l, empty for adjtimex.
	Addr string
}

func (c ClockSource) String() string {
	if c.Addr == "" {
		return c.Kind
	}
	return c.Kind + ":" + c.Addr
}

// parseClockSources parses "chrony-udp:HOST:PORT, chrony-unix:PATH,
// ptp4l:PATH, adjtimex".
func parseClockSources(val string) ([]ClockSource, string) {
	var out []ClockSource
	for _, item := range strings.Split(val, ",") {
		item = strings.TrimSpace(item)
		kind, addr, _ := strings.Cut(item, ":")
		c := ClockSource{Kind: kind, Addr: addr}
		switch kind {
		case "adjtimex":
			if addr != "" || strings.Contains(item, ":") {
				return nil, fmt.Sprintf("clock source %q: adjtimex takes no argument", item)
			}
		case "chrony-udp":
			if _, _, ok := splitHostPort(addr); !ok {
				return nil, fmt.Sprintf("clock source %q: want chrony-udp:HOST:PORT", item)
			}
		case "chrony-unix", "ptp4l":
			if !filepath.IsAbs(addr) {
				return nil, fmt.Sprintf("clock source %q: want %s:/absolute/socket/path", item, kind)
			}
		default:
			return nil, fmt.Sprintf("clock source %q: want chrony-udp:HOST:PORT, chrony-unix:PATH, ptp4l:PATH or adjtimex", item)
		}
		if slices.Contains(out, c) {
			return nil, fmt.Sprintf("clock source %q listed twice", item)
		}
		out = append(out, c)
	}
	return out, ""
}

// parseAllowList parses DynamicSessionAllowList: an absolute path of a file
// with one CompID a line (# comments allowed), or a comma list of CompIDs.
func parseAllowList(val string) ([]string, string) {
	var items []string
	if strings.HasPrefix(val, "/") {
		if msg := checkFile(val); msg != "" {
			return nil, msg
		}
		data, err := readCapped(val)
		if err != nil {
			return nil, fmt.Sprintf("file %s: %v", val, err)
		}
		if len(data) > maxFileSize {
			return nil, fmt.Sprintf("file %s is larger than %d bytes", val, maxFileSize)
		}
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") {
				items = append(items, l)
			}
		}
	} else {
		for _, it := range strings.Split(val, ",") {
			items = append(items, strings.TrimSpace(it))
		}
	}
	if len(items) == 0 {
		return nil, "allow-list is empty"
	}
	seen := map[string]bool{}
	for _, it := range items {
		if msg := checkCompID(it); msg != "" {
			return nil, "allow-list entry: " + msg
		}
		if seen[it] {
			return nil, fmt.Sprintf("allow-list entry %q listed twice", it)
		}
		seen[it] = true
	}
	return items, ""
}

// checkCompID refuses IDs quickfix would mangle: empty, spaces, control
// characters, or the separators of its SessionID string form.
func checkCompID(s string) string {
	if s == "" {
		return "empty CompID"
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || r == ':' || r == '>' {
			return fmt.Sprintf("CompID %q: use printable ASCII without spaces, ':' or '>'", s)
		}
	}
	return ""
}

// readCapped reads at most maxFileSize+1 bytes of path.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}
