package main

// TestRunRefusesBrokenConfig: broken session files, each refused by
// `fixtap run -check` (and so by `fixtap run`) with the file, the line, the
// key and, for a typo, the suggestion. internal/tapconfig's TestBrokenFiles
// covers the parser case by case; this is the operator's view through the
// command, including what is checked only at start-up.
//
// Re-run: go test -run 'TestRunRefuses' -v ./cmd/fixtap

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/tapconfig"
)

// lineOf is the 1-based number of the last line of text starting with
// prefix, or 0.
func lineOf(text, prefix string) int {
	n := 0
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			n = i + 1
		}
	}
	return n
}

func TestRunRefusesBrokenConfig(t *testing.T) {
	type brokenConfig struct {
		name string
		// edit changes the good file (text) in dir; it returns the text to
		// write.
		edit func(t *testing.T, dir, text string, port int) string
		// at is the prefix of the refused line ("" if the refusal names no
		// line); key the key named; want substrings of the message.
		at, key string
		want    []string
	}
	replace := func(old, new string) func(*testing.T, string, string, int) string {
		return func(t *testing.T, _, text string, _ int) string {
			if !strings.Contains(text, old) {
				t.Fatalf("%q not in the session file", old)
			}
			return strings.Replace(text, old, new, 1)
		}
	}
	cases := []brokenConfig{
		{name: "typo", edit: replace("HeartBtInt=30", "HeartBtIntt=30"),
			at: "HeartBtIntt=", key: "HeartBtIntt", want: []string{`unknown key (did you mean "HeartBtInt"?)`}},
		{name: "unknown key", edit: replace("HeartBtInt=30", "HeartBtInt=30\nFileLogPath=/var/log/fix"),
			at: "FileLogPath=", key: "FileLogPath", want: []string{"unknown key"}},
		{name: "missing key file", edit: func(t *testing.T, dir, text string, _ int) string {
			os.Remove(filepath.Join(dir, "tap.key"))
			return text
		}, at: "SigningKeyFile=", key: "SigningKeyFile", want: []string{"tap.key does not exist"}},
		{name: "duplicate session", edit: func(t *testing.T, _, text string, _ int) string {
			return text + "\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=TAP\nTargetCompID=BROKER\n"
		}, at: "TargetCompID=", key: "TargetCompID", want: []string{"duplicate session FIX.4.4:TAP->BROKER: the [SESSION] at line 18"}},
		{name: "port clash", edit: func(t *testing.T, _, text string, port int) string {
			return strings.Replace(text, "[SESSION]", fmt.Sprintf("MetricsAddress=127.0.0.1:%d\n\n[SESSION]", port), 1)
		}, at: "MetricsAddress=", key: "MetricsAddress", want: []string{"clashes with SocketAcceptPort of the acceptor [SESSION] at line"}},
		{name: "bad tier", edit: replace("Tier=SILVER", "Tier=BRONZE"),
			at: "Tier=", key: "Tier", want: []string{`value "BRONZE": want one of SILVER, GOLD, PLATINUM`}},
		{name: "world-readable key", edit: func(t *testing.T, dir, text string, _ int) string {
			if err := os.Chmod(filepath.Join(dir, "tap.key"), 0o644); err != nil {
				t.Fatal(err)
			}
			return text
		}, at: "SigningKeyFile=", key: "SigningKeyFile", want: []string{"has mode 0644", "chmod 600"}},
		{name: "world-readable account secret", edit: func(t *testing.T, dir, text string, _ int) string {
			if err := os.Chmod(filepath.Join(dir, "account.secret"), 0o604); err != nil {
				t.Fatal(err)
			}
			return text
		}, at: "AccountSecretFile=", key: "AccountSecretFile", want: []string{"has mode 0604", "chmod 600"}},
		{name: "missing required key", edit: replace("PolicyID=test.fixtap:default\n", ""),
			at: "[SESSION]", key: "PolicyID", want: []string{"missing required key"}},
		// Checked at start-up, beside the parser.
		{name: "world-readable checkpoint key", edit: func(t *testing.T, dir, text string, _ int) string {
			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			p := checkpointKeyFile(data)
			_, skey, err := seal.GenerateKey(rand.Reader, "fixtap/test.fixtap:default")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(skey+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, 0o644)
			return text
		}, want: []string{"checkpoint key", "checkpoint.skey has mode 0644", "chmod 600"}},
		{name: "dynamic sessions (not supported yet)", edit: replace("[SESSION]", "DynamicSessions=Y\nDynamicSessionAllowList=OMS3\n\n[SESSION]"),
			want: []string{"DynamicSessions=Y is not supported yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := writeConfig(t, dir, port)
			good, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			text := c.edit(t, dir, string(good), port)
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			err = run(context.Background(), []string{"run", "-config", cfg, "-check"}, &out, &errb)
			got := errb.String()
			if err != nil {
				got += err.Error()
			}
			if err == nil {
				t.Fatalf("accepted: %s\n%s", out.String(), text)
			}
			if strings.Contains(out.String(), "ok") {
				t.Errorf("stdout says ok: %q", out.String())
			}
			want := c.want
			if c.at != "" {
				line := lineOf(text, c.at)
				want = append([]string{fmt.Sprintf("%s:%d: key %q: ", cfg, line, c.key)}, want...)
			}
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("refusal lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestRunRefusesPortInUse: a port another program holds passes -check (a
// run-time fact) and is refused by `fixtap run` naming the address.
func TestRunRefusesPortInUse(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	cfg := writeConfig(t, dir, port)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"run", "-config", cfg, "-check"}, &out, &errb); err != nil {
		t.Fatalf("-check: %v\n%s", err, errb.String())
	}
	err = run(context.Background(), []string{"run", "-config", cfg}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run on a port in use: %v\n%s", err, errb.String())
	}
	// The failed start left nothing behind: once the port is free the same
	// sessions start in this process (quickfixgo's registry is global).
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	f, err := tapconfig.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- serve(ctx, f, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, serveOptions{Ready: ready})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("second start after a refused one: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
