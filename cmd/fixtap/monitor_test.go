package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// monitorReplica writes a small replica (300 events in the tlog-tiles
// layout with fixtap's events extension) into a directory served over
// HTTP, and returns its URL, directory and the log's vkey. The monitor's
// own tests (internal/monitor) cover the checks; these cover the command:
// flags, output and exit status.
func monitorReplica(t *testing.T) (url, dir, vkey string) {
	const origin = "fixtap.example/cmd-monitor"
	seed := sha256.Sum256([]byte("cmd monitor"))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	root := t.TempDir()
	dir = filepath.Join(root, "bucket", "log")
	write := func(p string, b []byte) {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const n = 300
	var bundles, events [2][]byte
	prev := strings.Repeat("0", 64)
	for i := range n {
		header := fmt.Sprintf(`{"EventType":"EXE","TimestampInt":"%d"}`, 1772460000000000000+int64(i)*1e9)
		payload := fmt.Sprintf(`{"FIX":{"MsgSeqNum":%d}}`, i+1)
		d := sha256.New()
		d.Write([]byte(header + payload))
		if i > 0 {
			d.Write([]byte(prev))
		}
		h := d.Sum(nil)
		line := fmt.Sprintf(`{"Header":%s,"Payload":%s,"Security":{"EventHash":"%x","PrevHash":"%s"}}`+"\n", header, payload, h, prev)
		prev = hex.EncodeToString(h)
		bundles[i/256] = append(binary.BigEndian.AppendUint16(bundles[i/256], 32), h...)
		events[i/256] = append(events[i/256], line...)
		hs, err := tlog.StoredHashes(int64(i), h, hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	for _, tile := range tlog.NewTiles(8, 0, n) {
		data, err := tlog.ReadTileData(tile, hr)
		if err != nil {
			t.Fatal(err)
		}
		p := uint8(0)
		if tile.W < 256 {
			p = uint8(tile.W)
		}
		write(layout.TilePath(uint64(tile.L), uint64(tile.N), p), data)
	}
	write(layout.EntriesPath(0, 0), bundles[0])
	write(layout.EntriesPath(1, n-256), bundles[1])
	write("fixtap/events/000", events[0])
	write(fmt.Sprintf("fixtap/events/001.p/%d", n-256), events[1])
	th, err := tlog.TreeHash(n, hr)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, n, base64.StdEncoding.EncodeToString(th[:]))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	write("checkpoint", msg)
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(srv.Close)
	return srv.URL + "/bucket/log/", dir, vkey
}

func TestMonitorOnce(t *testing.T) {
	url, dir, vkey := monitorReplica(t)
	keyFile := filepath.Join(t.TempDir(), "log.vkey")
	if err := os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "monitor.state")
	var out, errb bytes.Buffer
	// Flags after the URL, the key from a file: exit 0, one line per check.
	err := run(context.Background(), []string{"monitor", url, "-once", "-full", "-log-key", keyFile, "-state", state}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "fixtap-monitor check=") || !(strings.Contains(l, " status=ok ") || strings.Contains(l, "check=silence replica=- status=skip")) {
			t.Errorf("line %q", l)
		}
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("no state file: %v", err)
	}

	// A flipped byte in a tile: exit 1 (not a usage error), the failing
	// line names the tile.
	f := filepath.Join(dir, "tile", "0", "000")
	b, _ := os.ReadFile(f)
	b[5] ^= 1
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(context.Background(), []string{"monitor", "-once", "-full", "-log-key", vkey, url}, &out, &errb)
	var ue *usageError
	if !errors.Is(err, errMonitorFailed) || errors.As(err, &ue) {
		t.Fatalf("tampered: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "status=fail") || !strings.Contains(out.String(), "tile/0/000") {
		t.Errorf("tampered output:\n%s", out.String())
	}
}

// Usage and configuration errors exit 2 (a *usageError), with a message
// that says what is wrong.
func TestMonitorUsage(t *testing.T) {
	url, _, vkey := monitorReplica(t)
	badState := filepath.Join(t.TempDir(), "bad.state")
	if err := os.WriteFile(badState, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	badPolicy := filepath.Join(t.TempDir(), "bad.policy")
	if err := os.WriteFile(badPolicy, []byte("quorum nobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-once", "-log-key", vkey}, "at least one replica URL"},
		{[]string{"-once", url}, "-log-key is required"},
		{[]string{"-once", "-log-key", "nonsense", url}, "-log-key"},
		{[]string{"-once", "-log-key", vkey, "-window", "Mon-Fry 13:30-20:00 UTC", url}, `day "Fry"`},
		{[]string{"-once", "-log-key", vkey, "-witness-policy", badPolicy, url}, "-witness-policy"},
		{[]string{"-once", "-log-key", vkey, "-state", badState, url}, "state"},
		{[]string{"-once", "-log-key", vkey, "ftp://x/", url}, "http:// or https://"},
		{[]string{"-once", "-log-key", vkey, "-listen", "127.0.0.1:0", url}, "-listen"},
		{[]string{"-once", "-log-key", vkey, "-silence-ignore", "hbt", url}, "SilenceIgnore"},
		{[]string{"-once", "-log-key", vkey, "-max-age", "soon", url}, "max-age"},
		{[]string{"-once", "-log-key", vkey, "-sigv4", url}, "AWS_ACCESS_KEY_ID"},
	} {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"monitor"}, c.args...), &out, &errb)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v (want a usage error saying %q)", c.args, err, c.msg)
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"monitor", "-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// Looping with -listen: rounds until the context ends, /healthz and
// /metrics served meanwhile; exit 0 on the signal.
func TestMonitorLoop(t *testing.T) {
	url, _, vkey := monitorReplica(t)
	ln := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"monitor", "-log-key", vkey, "-interval", "1s", "-listen", ln, url}, &out, &errb)
	}()
	var body string
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://" + ln + "/healthz")
		if err == nil {
			b := new(bytes.Buffer)
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if body = b.String(); resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "ok\n" {
		t.Errorf("healthz %q; stderr:\n%s", body, errb.String())
	}
	resp, err := http.Get("http://" + ln + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := new(bytes.Buffer)
	m.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(m.String(), `fixtap_monitor_tree_size{replica="`+url+`"} 300`) {
		t.Errorf("metrics:\n%s", m.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "check=data") {
		t.Errorf("no lines:\n%s", out.String())
	}
}
