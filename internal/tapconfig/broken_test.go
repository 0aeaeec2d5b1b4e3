package tapconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

// minimalTemplate is the smallest good file; {{dir}} is the directory of
// fakeEtc's files. Line numbers matter to the table below:
//
//	1 [DEFAULT]            8 PolicyID
//	2 DataDir              9 PolicyIssuer
//	3 SigningKeyFile      10 [SESSION]
//	4 AccountSecretFile   11 ConnectionType
//	5 BeginString         12 SocketAcceptPort
//	6 SenderCompID        13 TargetCompID
//	7 MetricsAddress
const minimalTemplate = `[DEFAULT]
DataDir=/var/lib/fixtap
SigningKeyFile={{dir}}/signing.key
AccountSecretFile={{dir}}/account.secret
BeginString=FIX.4.4
SenderCompID=FIXTAP
MetricsAddress=127.0.0.1:9464
PolicyID=urn:example:policy:1
PolicyIssuer=Example Ops
[SESSION]
ConnectionType=acceptor
SocketAcceptPort=9878
TargetCompID=OMS1
`

func minimal(dir string) string { return strings.ReplaceAll(minimalTemplate, "{{dir}}", dir) }

// initiatorSession is a good initiator [SESSION] to append (its lines are
// 15.. when appended after a blank line to minimalTemplate).
const initiatorSession = `
[SESSION]
ConnectionType=initiator
TargetCompID=VENUE
SocketConnectHost=dropcopy.venue.example
SocketConnectPort=9878
HeartBtInt=30
`

type wantErr struct {
	line       int
	key        string
	msg        string // substring of Msg
	suggestion string
}

type brokenCase struct {
	name string
	edit func(s string) string // applied to minimalTemplate before {{dir}} is filled
	want []wantErr
	// full, if set, is the exact text of the first error.
	full string
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test edit: " + old + " not in template")
		}
		return strings.Replace(s, old, new, 1)
	}
}

func appendText(more string) func(string) string {
	return func(s string) string { return s + more }
}

var brokenCases = []brokenCase{
	{
		name: "typo with suggestion",
		edit: replace("SocketAcceptPort=9878", "SocketAcceptPrt=9878"),
		want: []wantErr{
			{10, "SocketAcceptPort", "missing required key", ""},
			{12, "SocketAcceptPrt", "unknown key", "SocketAcceptPort"},
		},
	},
	{
		name: "typo exact message",
		edit: replace("SocketAcceptPort=9878", "SocketAcceptPort=9878\nHeartBeatInt=30"),
		want: []wantErr{{13, "HeartBeatInt", "unknown key", "HeartBtInt"}},
		full: `fixtap.cfg:13: key "HeartBeatInt": unknown key (did you mean "HeartBtInt"?)`,
	},
	{
		name: "wrong case suggests the right case",
		edit: replace("DataDir=", "datadir="),
		want: []wantErr{
			{1, "DataDir", "missing required key in [DEFAULT]", ""},
			{2, "datadir", "unknown key", "DataDir"},
		},
	},
	{
		name: "unknown key without suggestion",
		edit: appendText("FileStorePathology=/tmp/x\n"),
		want: []wantErr{{14, "FileStorePathology", "unknown key", ""}},
	},
	{
		name: "quickfix key the tap does not support",
		edit: appendText("FileLogPath=/var/log/fix\n"),
		want: []wantErr{{14, "FileLogPath", "unknown key", ""}},
	},
	{
		name: "duplicated key in a section",
		edit: appendText("TargetCompID=OMS2\n"),
		want: []wantErr{{14, "TargetCompID", "duplicated in this [SESSION] section (first set at line 13)", ""}},
	},
	{
		name: "key outside any section",
		edit: func(s string) string { return "Tier=GOLD\n" + s },
		want: []wantErr{{1, "Tier", "key outside any section", ""}},
	},
	{
		name: "malformed line",
		edit: appendText("this is not a setting\n"),
		want: []wantErr{{14, "", "malformed line", ""}},
	},
	{
		name: "unknown section",
		edit: appendText("[SESSIONS]\nTargetCompID=OMS2\n"),
		want: []wantErr{{14, "", "unknown section", ""}},
	},
	{
		name: "trailing comment",
		edit: replace("SocketAcceptPort=9878", "SocketAcceptPort=9878 # OMS port"),
		want: []wantErr{{12, "SocketAcceptPort", "trailing comment", ""}},
	},
	{
		name: "tap key in a session",
		edit: appendText("DataDir=/srv/fixtap\n"),
		want: []wantErr{{14, "DataDir", "not allowed in [SESSION]", ""}},
	},
	{
		name: "missing required session key",
		edit: replace("TargetCompID=OMS1\n", ""),
		want: []wantErr{{10, "TargetCompID", "missing required key", ""}},
	},
	{
		name: "missing policy",
		edit: replace("PolicyID=urn:example:policy:1\n", ""),
		want: []wantErr{{9, "PolicyID", "missing required key", ""}},
	},
	{
		name: "missing required tap key",
		edit: replace("SigningKeyFile={{dir}}/signing.key\n", ""),
		want: []wantErr{{1, "SigningKeyFile", "missing required key in [DEFAULT]", ""}},
	},
	{
		name: "missing key file",
		edit: replace("{{dir}}/signing.key", "{{dir}}/absent.key"),
		want: []wantErr{{3, "SigningKeyFile", "absent.key does not exist", ""}},
	},
	{
		name: "group-readable key file",
		edit: replace("{{dir}}/signing.key", "{{dir}}/group.key"),
		want: []wantErr{{3, "SigningKeyFile", "has mode 0640", ""}},
	},
	{
		name: "world-readable key file",
		edit: replace("{{dir}}/signing.key", "{{dir}}/world.key"),
		want: []wantErr{{3, "SigningKeyFile", "has mode 0644", ""}},
	},
	{
		name: "relative key path",
		edit: replace("{{dir}}/signing.key", "signing.key"),
		want: []wantErr{{3, "SigningKeyFile", "want an absolute path", ""}},
	},
	{
		name: "missing TLS file",
		edit: appendText("SocketCertificateFile={{dir}}/tls/absent.crt\nSocketPrivateKeyFile={{dir}}/tls/tap.key\n"),
		want: []wantErr{{14, "SocketCertificateFile", "does not exist", ""}},
	},
	{
		name: "world-readable TLS key",
		edit: appendText("SocketCertificateFile={{dir}}/tls/tap.crt\nSocketPrivateKeyFile={{dir}}/world.key\n"),
		want: []wantErr{{15, "SocketPrivateKeyFile", "has mode 0644", ""}},
	},
	{
		name: "duplicate session",
		edit: appendText("\n[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9879\nTargetCompID=OMS1\n"),
		want: []wantErr{{18, "TargetCompID", "duplicate session FIX.4.4:FIXTAP->OMS1: the [SESSION] at line 10", ""}},
	},
	{
		name: "bad tier",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nTier=BRONZE\n"),
		want: []wantErr{{2, "Tier", `value "BRONZE": want one of SILVER, GOLD, PLATINUM`, ""}},
	},
	{
		name: "bad durability",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nDurability=fsync\n"),
		want: []wantErr{{2, "Durability", `value "fsync": want one of group, interval`, ""}},
	},
	{
		name: "bad duration",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nDurabilityInterval=5\n"),
		want: []wantErr{{2, "DurabilityInterval", "want a positive duration", ""}},
	},
	{
		name: "bad bool",
		edit: appendText("ResetOnLogon=yes\n"),
		want: []wantErr{{14, "ResetOnLogon", `value "yes": want Y or N`, ""}},
	},
	{
		name: "bad port",
		edit: replace("SocketAcceptPort=9878", "SocketAcceptPort=70000"),
		want: []wantErr{{12, "SocketAcceptPort", "want a TCP port number 1-65535", ""}},
	},
	{
		name: "port zero",
		edit: replace("SocketAcceptPort=9878", "SocketAcceptPort=0"),
		want: []wantErr{{12, "SocketAcceptPort", "want a TCP port number 1-65535", ""}},
	},
	{
		name: "metrics port clash",
		edit: replace("MetricsAddress=127.0.0.1:9464", "MetricsAddress=:9878"),
		want: []wantErr{{7, "MetricsAddress", "port 9878 clashes with SocketAcceptPort of the acceptor [SESSION] at line 10", ""}},
	},
	{
		name: "metrics on loopback, acceptor on all interfaces",
		edit: replace("MetricsAddress=127.0.0.1:9464", "MetricsAddress=127.0.0.1:9878"),
		want: []wantErr{{7, "MetricsAddress", "port 9878 clashes", ""}},
	},
	{
		name: "initiator connects to the tap's own metrics listener",
		edit: appendText(strings.Replace(strings.Replace(initiatorSession, "dropcopy.venue.example", "127.0.0.1", 1), "9878", "9464", 1)),
		want: []wantErr{{19, "SocketConnectPort", "is the tap's own MetricsAddress (line 7)", ""}},
	},
	{
		name: "certificate without private key",
		edit: appendText("SocketCertificateFile={{dir}}/tls/tap.crt\n"),
		want: []wantErr{{14, "SocketCertificateFile", "set without SocketPrivateKeyFile", ""}},
	},
	{
		name: "unknown time zone",
		edit: appendText("TimeZone=Mars/Olympus\nStartTime=00:00:00\nEndTime=23:59:59\n"),
		want: []wantErr{{14, "TimeZone", "unknown time zone", ""}},
	},
	{
		name: "start time without end time",
		edit: appendText("StartTime=08:00:00\n"),
		want: []wantErr{{14, "StartTime", "set without EndTime", ""}},
	},
	{
		name: "empty value",
		edit: replace("TargetCompID=OMS1", "TargetCompID="),
		want: []wantErr{{13, "TargetCompID", "empty value", ""}},
	},
	{
		name: "no session",
		edit: func(s string) string { return s[:strings.Index(s, "[SESSION]")] },
		want: []wantErr{{9, "", "no [SESSION] section", ""}},
	},
	{
		name: "initiator connects to the tap's own acceptor",
		edit: appendText(strings.Replace(initiatorSession, "dropcopy.venue.example", "localhost", 1)),
		want: []wantErr{{19, "SocketConnectPort", "the tap would connect to itself", ""}},
	},
	{
		name: "missing secret without PseudonymizeAccounts=N",
		edit: replace("AccountSecretFile={{dir}}/account.secret\n", ""),
		want: []wantErr{{1, "AccountSecretFile", "PseudonymizeAccounts=N", ""}},
	},
	{
		name: "readable account secret",
		edit: replace("{{dir}}/account.secret", "{{dir}}/loose.secret"),
		want: []wantErr{{4, "AccountSecretFile", "has mode 0644", ""}},
	},
	{
		name: "short account secret",
		edit: replace("{{dir}}/account.secret", "{{dir}}/short.secret"),
		want: []wantErr{{4, "AccountSecretFile", "holds 8 bytes: want at least 16", ""}},
	},
	{
		name: "initiator without HeartBtInt",
		edit: appendText(strings.Replace(initiatorSession, "HeartBtInt=30\n", "", 1)),
		want: []wantErr{{15, "HeartBtInt", "missing required key", ""}},
	},
	{
		name: "connect host gap",
		edit: appendText(initiatorSession + "SocketConnectHost2=dr.venue.example\nSocketConnectPort2=9880\n"),
		want: []wantErr{
			{21, "SocketConnectHost2", "SocketConnectHost1 is missing", ""},
			{22, "SocketConnectPort2", "SocketConnectPort1 is missing", ""},
		},
	},
	{
		name: "TSA URL gap and no trust roots",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nTSAURL2=https://tsa.example.com/\n"),
		want: []wantErr{{2, "TSAURL2", "TSAURL1 is missing", ""}},
	},
	{
		name: "TSA without trust roots",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nTSAURL1=https://tsa.example.com/\n"),
		want: []wantErr{{1, "TSATrustRootsFile", "missing", ""}},
	},
	{
		name: "bad clock source",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nClockSources=chrony:127.0.0.1:323\n"),
		want: []wantErr{{2, "ClockSources", `clock source "chrony:127.0.0.1:323"`, ""}},
	},
	{
		name: "dynamic sessions without allow-list",
		edit: replace("[DEFAULT]\n", "[DEFAULT]\nDynamicSessions=Y\n"),
		want: []wantErr{{2, "DynamicSessionAllowList", "needs an allow-list", ""}},
	},
	{
		name: "lone CA file means TLS off",
		edit: appendText("SocketCAFile={{dir}}/tls/oms-ca.pem\n"),
		want: []wantErr{{14, "SocketCAFile", "TLS is off", ""}},
	},
	{
		name: "acceptors disagree on TLS",
		edit: appendText("SocketCertificateFile={{dir}}/tls/tap.crt\nSocketPrivateKeyFile={{dir}}/tls/tap.key\n" +
			"\n[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9878\nTargetCompID=OMS2\n"),
		want: []wantErr{
			{17, "SocketCertificateFile", "acceptor sessions must agree on SocketCertificateFile", ""},
			{17, "SocketPrivateKeyFile", "acceptor sessions must agree on SocketPrivateKeyFile", ""},
		},
	},
	{
		name: "FIXT without DefaultApplVerID",
		edit: replace("BeginString=FIX.4.4", "BeginString=FIXT.1.1"),
		want: []wantErr{{10, "DefaultApplVerID", "missing required key", ""}},
	},
	{
		name: "TLS 1.3 minimum (quickfixgo would ignore it)",
		edit: appendText("SocketUseSSL=Y\nSocketMinimumTLSVersion=TLS13\n"),
		want: []wantErr{{15, "SocketMinimumTLSVersion", `want one of TLS12`, ""}},
	},
	{
		name: "second DEFAULT after a session",
		edit: appendText("[DEFAULT]\nTier=GOLD\n"),
		want: []wantErr{{14, "", "second [DEFAULT] section", ""}},
	},
	{
		name: "many errors, sorted by line",
		edit: func(s string) string {
			s = replace("{{dir}}/signing.key", "{{dir}}/world.key")(s)
			s = replace("SocketAcceptPort=9878", "SocketAcceptPort=x")(s)
			return replace("[DEFAULT]\n", "[DEFAULT]\nTier=bronze\n")(s)
		},
		want: []wantErr{
			{2, "Tier", "want one of", ""},
			{4, "SigningKeyFile", "has mode 0644", ""},
			{13, "SocketAcceptPort", "want a TCP port", ""},
		},
	},
}

// brokenFiles makes, beside fakeEtc's good files, the bad ones the table
// refers to.
func brokenFiles(tb testing.TB, dir string) {
	tb.Helper()
	priv, err := chain.GenerateKey(strings.NewReader(strings.Repeat("k", 64)))
	if err != nil {
		tb.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"group.key": 0o640, "world.key": 0o644} {
		p := filepath.Join(dir, name)
		if err := chain.WritePrivateKeyFile(p, priv); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]struct {
		data string
		mode os.FileMode
	}{
		"loose.secret": {strings.Repeat("s", 32), 0o644},
		"short.secret": {"12345678", 0o600},
	}
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	brokenFiles(t, dir)
	for _, c := range brokenCases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.ReplaceAll(c.edit(minimalTemplate), "{{dir}}", dir)
			f, err := Parse("fixtap.cfg", strings.NewReader(text))
			if err == nil {
				t.Fatalf("accepted:\n%s\n%+v", text, f)
			}
			if f != nil {
				t.Errorf("Parse returned a File with an error")
			}
			got := checkErrShape(t, "fixtap.cfg", err)
			if len(got) != len(c.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(got), len(c.want), err)
			}
			for i := range min(len(got), len(c.want)) {
				g, w := got[i], c.want[i]
				if g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) || g.Suggestion != w.suggestion {
					t.Errorf("error %d = %q\n(line %d key %q msg %q suggestion %q)\nwant line %d key %q msg containing %q suggestion %q",
						i, g, g.Line, g.Key, g.Msg, g.Suggestion, w.line, w.key, w.msg, w.suggestion)
				}
			}
			if c.full != "" && got[0].Error() != c.full {
				t.Errorf("message %q, want %q", got[0].Error(), c.full)
			}
		})
	}
}

func TestKeyFileModeErrorKept(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	brokenFiles(t, dir)
	text := strings.ReplaceAll(minimal(dir), "/signing.key", "/world.key")
	_, err := Parse("fixtap.cfg", strings.NewReader(text))
	var me *chain.KeyFileModeError
	if !errors.As(err, &me) || me.Path != dir+"/world.key" {
		t.Errorf("errors.As(*chain.KeyFileModeError) failed on %v", err)
	}
}

// TestGoodVariants: things that look like clashes but are not.
func TestGoodVariants(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	cases := []struct {
		name string
		edit func(string) string
		// check is optional
		check func(t *testing.T, f *File)
	}{
		{"two acceptors share a port", appendText("\n[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9878\nTargetCompID=OMS2\n"), nil},
		{"same CompIDs, different qualifier", appendText("\n[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=9878\nTargetCompID=OMS1\nSessionQualifier=B\n"), nil},
		{"initiator to a remote host on the acceptor's port", appendText(initiatorSession), nil},
		{"accounts in clear, said explicitly", func(s string) string {
			return replace("AccountSecretFile={{dir}}/account.secret\n", "PseudonymizeAccounts=N\n")(s)
		}, func(t *testing.T, f *File) {
			if f.Tap.PseudonymizeAccounts {
				t.Error("PseudonymizeAccounts still on")
			}
		}},
		{"metrics on loopback, acceptor on another address, same port", func(s string) string {
			s = replace("MetricsAddress=127.0.0.1:9464", "MetricsAddress=127.0.0.1:9878")(s)
			return appendText("SocketAcceptHost=10.0.0.1\n")(s)
		}, nil},
		{"comments, blanks and spaces", func(s string) string {
			return "# head\n; also a comment\n\n" + strings.ReplaceAll(s, "=", " = ")
		}, nil},
		{"reset deviation recorded", appendText("ResetOnLogon=Y\n"), func(t *testing.T, f *File) {
			if d := f.Sessions[0].Deviations; len(d) != 1 || d[0] != "ResetOnLogon=Y" {
				t.Errorf("Deviations = %v", d)
			}
			qs, err := f.QuickfixSettings(Acceptor)
			if err != nil {
				t.Fatal(err)
			}
			for _, ss := range qs.SessionSettings() {
				if v, _ := ss.Setting("ResetOnLogon"); v != "Y" {
					t.Errorf("ResetOnLogon = %q, want the operator's Y", v)
				}
			}
		}},
		{"dynamic sessions with an allow-list", replace("[DEFAULT]\n", "[DEFAULT]\nDynamicSessions=Y\nDynamicSessionAllowList=OMS3, OMS4\n"), func(t *testing.T, f *File) {
			if !f.Tap.DynamicSessions || strings.Join(f.Tap.DynamicSessionAllowList, ",") != "OMS3,OMS4" {
				t.Errorf("dynamic: %v %v", f.Tap.DynamicSessions, f.Tap.DynamicSessionAllowList)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.ReplaceAll(c.edit(minimalTemplate), "{{dir}}", dir)
			f, err := Parse("fixtap.cfg", strings.NewReader(text))
			if err != nil {
				t.Fatalf("refused:\n%v\n%s", err, text)
			}
			if c.check != nil {
				c.check(t, f)
			}
		})
	}
}
