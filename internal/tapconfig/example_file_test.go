package tapconfig

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
)

// nopApp is a quickfix.Application that does nothing; it lets the test
// build real Acceptor/Initiator values (which check every session's
// settings) without starting them.
type nopApp struct{}

func (nopApp) OnCreate(quickfix.SessionID)                       {}
func (nopApp) OnLogon(quickfix.SessionID)                        {}
func (nopApp) OnLogout(quickfix.SessionID)                       {}
func (nopApp) ToAdmin(*quickfix.Message, quickfix.SessionID)     {}
func (nopApp) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }
func (nopApp) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}
func (nopApp) FromApp(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}

func TestExampleFile(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	f, err := Parse("fixtap.cfg", strings.NewReader(exampleIn(t, dir)))
	if err != nil {
		t.Fatalf("example refused:\n%v", err)
	}

	tap := f.Tap
	if tap.DataDir != "/var/lib/fixtap" || tap.SigningKeyFile != dir+"/signing.key" ||
		tap.Durability != chain.SyncPerGroup || tap.DurabilityInterval != 5*time.Millisecond ||
		tap.Tier != TierGold || !tap.PseudonymizeAccounts || tap.AccountSecretFile != dir+"/account.secret" ||
		tap.MetricsAddress != "127.0.0.1:9464" || tap.TSATrustRootsFile != dir+"/tsa-roots.pem" ||
		tap.VenueID != "XEXM" || tap.PolicyID == "" || tap.DynamicSessions {
		t.Errorf("tap settings: %+v", tap)
	}
	if want := []string{"https://tsa.example.com/rfc3161", "http://timestamp.backup-tsa.example.net/"}; strings.Join(tap.TSAURLs, " ") != strings.Join(want, " ") {
		t.Errorf("TSAURLs = %q, want %q", tap.TSAURLs, want)
	}
	wantClocks := []ClockSource{{"chrony-unix", "/run/chrony/chronyd.sock"}, {"chrony-udp", "127.0.0.1:323"}, {"adjtimex", ""}}
	if len(tap.ClockSources) != len(wantClocks) {
		t.Errorf("ClockSources = %v", tap.ClockSources)
	} else {
		for i := range wantClocks {
			if tap.ClockSources[i] != wantClocks[i] {
				t.Errorf("ClockSources[%d] = %v, want %v", i, tap.ClockSources[i], wantClocks[i])
			}
		}
	}

	wantSessions := []struct {
		conn  string
		id    quickfix.SessionID
		venue string
	}{
		{Acceptor, quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "FIXTAP", TargetCompID: "OMS1"}, "XEXM"},
		{Acceptor, quickfix.SessionID{BeginString: "FIX.4.2", SenderCompID: "FIXTAP", TargetCompID: "OMS2"}, "XEXM"},
		{Initiator, quickfix.SessionID{BeginString: "FIXT.1.1", SenderCompID: "FIXTAPDC", TargetCompID: "VENUEDC"}, "XVEN"},
	}
	if len(f.Sessions) != len(wantSessions) {
		t.Fatalf("%d sessions, want %d", len(f.Sessions), len(wantSessions))
	}
	for i, w := range wantSessions {
		s := f.Sessions[i]
		if s.ConnectionType != w.conn || s.ID != w.id || s.VenueID != w.venue || len(s.Deviations) != 0 {
			t.Errorf("session %d: %s %v venue %s deviations %v; want %s %v venue %s", i, s.ConnectionType, s.ID, s.VenueID, s.Deviations, w.conn, w.id, w.venue)
		}
	}

	for _, conn := range []string{Acceptor, Initiator} {
		qs, err := f.QuickfixSettings(conn)
		if err != nil {
			t.Fatalf("QuickfixSettings(%s): %v", conn, err)
		}
		ids := qs.SessionSettings()
		var want []quickfix.SessionID
		for _, s := range f.Sessions {
			if s.ConnectionType == conn {
				want = append(want, s.ID)
			}
		}
		if len(ids) != len(want) {
			t.Errorf("%s: quickfixgo sees %d sessions, want %d", conn, len(ids), len(want))
		}
		for _, id := range want {
			ss, ok := ids[id]
			if !ok {
				t.Errorf("%s: quickfixgo lacks session %v", conn, id)
				continue
			}
			for _, k := range keyTable {
				if k.tap && ss.HasSetting(k.name) {
					t.Errorf("%s %v: tap key %s reaches quickfixgo", conn, id, k.name)
				}
			}
			for _, k := range SafeDefaultKeys() {
				if v, err := ss.Setting(k); err != nil || v != "N" {
					t.Errorf("%s %v: safe default %s = %q, %v; want N", conn, id, k, v, err)
				}
			}
		}
		if conn == Acceptor {
			// quickfixgo's Acceptor reads these globally only.
			g := qs.GlobalSettings()
			for _, k := range []string{config.SocketCertificateFile, config.SocketPrivateKeyFile, config.SocketCAFile} {
				if v, _ := g.Setting(k); !strings.HasPrefix(v, dir+"/tls/") {
					t.Errorf("acceptor global %s = %q, want the acceptor sessions' file", k, v)
				}
			}
		}
		// quickfixgo itself accepts them: its constructors build every
		// session from these settings (schedule, heartbeat, ApplVerID...)
		// and register it in quickfix's global registry, undone here.
		t.Cleanup(func() {
			for _, id := range want {
				_ = quickfix.UnregisterSession(id)
			}
		})
		if conn == Acceptor {
			_, err = quickfix.NewAcceptor(nopApp{}, quickfix.NewMemoryStoreFactory(), qs, quickfix.NewNullLogFactory())
		} else {
			_, err = quickfix.NewInitiator(nopApp{}, quickfix.NewMemoryStoreFactory(), qs, quickfix.NewNullLogFactory())
		}
		if err != nil {
			t.Errorf("quickfixgo refuses the %s settings: %v", conn, err)
		}
	}

	// The log view names files; no secret is ever read into a File.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "file", f)
	if !strings.Contains(buf.String(), "account.secret") || !strings.Contains(buf.String(), "FIX.4.4:FIXTAP->OMS1") {
		t.Errorf("log lacks expected fields: %s", buf.String())
	}
}

func TestLogValueRedactsTSAPassword(t *testing.T) {
	ts := DefaultTapSettings()
	ts.TSAURLs = []string{"https://user:hunter2@tsa.example.com/"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("tap", "tap", ts)
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("password logged: %s", buf.String())
	}
}

func TestQuickfixSettingsNoSessions(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	text := minimal(dir)
	f, err := Parse("min.cfg", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.QuickfixSettings(Initiator); !errors.Is(err, ErrNoSessions) {
		t.Errorf("QuickfixSettings(initiator) on an acceptor-only file: %v, want ErrNoSessions", err)
	}
	if _, err := f.QuickfixSettings("both"); err == nil {
		t.Error("QuickfixSettings(\"both\") accepted")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	if _, err := Load(dir + "/absent.cfg"); err == nil {
		t.Fatal("Load of a missing file succeeded")
	} else {
		checkErrShape(t, dir+"/absent.cfg", err)
	}
	path := dir + "/fixtap.cfg"
	if err := os.WriteFile(path, []byte(exampleIn(t, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || len(f.Sessions) != 3 {
		t.Errorf("Load: path %q, %d sessions", f.Path, len(f.Sessions))
	}
	bad := dir + "/bad.cfg"
	if err := os.WriteFile(bad, []byte("[DEFAULT]\nDataDri=/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	want := bad + `:2: key "DataDri": unknown key (did you mean "DataDir"?)`
	found := false
	for _, e := range checkErrShape(t, bad, err) {
		found = found || e.Error() == want
	}
	if !found {
		t.Errorf("Load(bad) = %v\nlacks %q", err, want)
	}
}
