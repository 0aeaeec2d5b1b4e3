package tapconfig

import (
	"strings"
	"testing"
)

// TestLogFile: LogFile takes an absolute path (default: none, stderr) and
// refuses a relative one naming line and key.
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	f, err := Parse("fixtap.cfg", strings.NewReader(minimal(dir)))
	if err != nil || f.Tap.LogFile != "" {
		t.Fatalf("without LogFile: %v, LogFile %q", err, f.Tap.LogFile)
	}
	text := replace("MetricsAddress=127.0.0.1:9464\n", "MetricsAddress=127.0.0.1:9464\nLogFile=/var/log/fixtap/fixtap.log\n")(minimal(dir))
	if f, err = Parse("fixtap.cfg", strings.NewReader(text)); err != nil || f.Tap.LogFile != "/var/log/fixtap/fixtap.log" {
		t.Fatalf("LogFile: %v, %+v", err, f)
	}
	text = replace("MetricsAddress=127.0.0.1:9464\n", "MetricsAddress=127.0.0.1:9464\nLogFile=fixtap.log\n")(minimal(dir))
	_, err = Parse("fixtap.cfg", strings.NewReader(text))
	got := checkErrShape(t, "fixtap.cfg", err)
	if len(got) != 1 || got[0].Line != 8 || got[0].Key != KeyLogFile || !strings.Contains(got[0].Msg, "absolute path") {
		t.Fatalf("relative LogFile: %v", err)
	}
}
