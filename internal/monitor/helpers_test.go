package monitor

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/cosign"
)

// The tests build replicas the way the layout says the replicator does —
// tiles from tlog.NewTiles/ReadTileData over the tree's stored hashes,
// entry bundles of raw EventHashes, event lines hashed as the profile
// says — into directories served by a real net/http file server. The
// monitor's logic is what is under test here; replicas on real S3 servers
// are in the end-to-end test.

const testOrigin = "fixtap.example/monitor-test"

// t0 is a Monday, 14:00 UTC.
var t0 = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testLog is a log in memory: event lines, their EventHashes, the tree.
type testLog struct {
	t      testing.TB
	signer note.Signer
	vkey   note.Verifier
	lines  [][]byte
	hashes [][32]byte
	stored []tlog.Hash
}

func newTestLog(t testing.TB) *testLog {
	seed := sha256.Sum256([]byte("monitor test log key"))
	skey, vk, err := note.GenerateKey(bytes.NewReader(seed[:]), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{t: t, signer: signer, vkey: v}
}

func (l *testLog) size() int64 { return int64(len(l.hashes)) }

// add appends an event: a FIX-derived one (EventType EXE, Payload.FIX) or
// the tap's own (EventType SNC), captured at tm. The line has the shape of
// an exported events.jsonl line, hashed as docs/vcp-profile.md §2 says.
func (l *testLog) add(fix bool, tm time.Time) {
	i := len(l.hashes)
	typ, payload := "SNC", `{"Clock":{"Status":"NTP_SYNCED"}}`
	if fix {
		typ = "EXE"
		payload = fmt.Sprintf(`{"FIX":{"BeginString":"FIX.4.4","MsgSeqNum":%d,"MsgType":"8","RawSHA256":"%064x","SessionID":"FIX.4.4:TAP->BROKER"}}`, i+1, i)
	}
	header := fmt.Sprintf(`{"EventID":"01a200bb-f3bf-7e23-b4f4-%012x","EventType":"%s","TimestampInt":"%d"}`, i, typ, tm.UnixNano())
	prev := "0000000000000000000000000000000000000000000000000000000000000000"
	d := sha256.New()
	d.Write([]byte(header))
	d.Write([]byte(payload))
	if i > 0 {
		prev = hex.EncodeToString(l.hashes[i-1][:])
		d.Write([]byte(prev))
	}
	var h [32]byte
	d.Sum(h[:0])
	line := fmt.Sprintf(`{"Header":%s,"Payload":%s,"Security":{"EventHash":"%x","MerkleIndex":%d,"PrevHash":"%s","Version":"1.1"}}`,
		header, payload, h[:], i, prev)
	l.lines = append(l.lines, []byte(line))
	l.hashes = append(l.hashes, h)
	hs, err := tlog.StoredHashes(int64(i), h[:], l)
	if err != nil {
		l.t.Fatal(err)
	}
	l.stored = append(l.stored, hs...)
}

// addRun appends n events one second apart from start, FIX-derived when fix.
func (l *testLog) addRun(n int, fix bool, start time.Time, step time.Duration) time.Time {
	for range n {
		l.add(fix, start)
		start = start.Add(step)
	}
	return start
}

func (l *testLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(l.stored)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = l.stored[x]
	}
	return out, nil
}

func (l *testLog) root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, l)
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

// checkpoint signs the checkpoint of size n, with cosigners' signatures.
func (l *testLog) checkpoint(n int64, cosigners ...note.Signer) []byte {
	r := l.root(n)
	text := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, n, base64.StdEncoding.EncodeToString(r[:]))
	msg, err := note.Sign(&note.Note{Text: text}, append([]note.Signer{l.signer}, cosigners...)...)
	if err != nil {
		l.t.Fatal(err)
	}
	return msg
}

// publish writes into dir what a replicator writes for growth from
// `from` to `to` entries: the tiles tlog.NewTiles(8, from, to), the entry
// and events bundles covering the new entries (at their width for `to`),
// then the checkpoint.
func (l *testLog) publish(dir string, from, to int64, cosigners ...note.Signer) {
	l.t.Helper()
	for _, t := range tlog.NewTiles(tileHeight, from, to) {
		data, err := tlog.ReadTileData(t, l)
		if err != nil {
			l.t.Fatal(err)
		}
		writeFile(l.t, dir, layout.TilePath(uint64(t.L), uint64(t.N), partial(t.W)), data)
	}
	if to > from {
		for N := from >> tileHeight; N <= (to-1)>>tileHeight; N++ {
			w := widthAt(0, N, to)
			var bundle, events []byte
			for j := range w {
				i := N<<tileHeight + int64(j)
				bundle = binary.BigEndian.AppendUint16(bundle, 32)
				bundle = append(bundle, l.hashes[i][:]...)
				events = append(append(events, l.lines[i]...), '\n')
			}
			writeFile(l.t, dir, layout.EntriesPath(uint64(N), partial(w)), bundle)
			writeFile(l.t, dir, eventsPath(N, w), events)
		}
	}
	writeFile(l.t, dir, layout.CheckpointPath, l.checkpoint(to, cosigners...))
}

func writeFile(t testing.TB, dir, path string, data []byte) {
	p := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flip changes one byte of the object at path in dir.
func flip(t testing.TB, dir, path string, at int) {
	p := filepath.Join(dir, filepath.FromSlash(path))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replicas serves a directory over HTTP and returns the base URLs of n
// replicas under it (path-style, bucket and prefix) and their directories.
func replicas(t testing.TB, n int) (urls, dirs []string) {
	root := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(srv.Close)
	for i := range n {
		rel := fmt.Sprintf("bucket%d/log/prefix", i)
		d := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		urls = append(urls, srv.URL+"/"+rel+"/")
		dirs = append(dirs, d)
	}
	return urls, dirs
}

// witness returns a cosignature/v1 signer named name whose timestamps come
// from clk.
func witness(t testing.TB, name string, clk *fakeClock) *cosign.Signer {
	seed := sha256.Sum256([]byte(name))
	s, err := cosign.NewSigner(name, ed25519.NewKeyFromSeed(seed[:]), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newMonitor makes a monitor of urls with the test log's key, the clock
// and cfg's other fields.
func newMonitor(t testing.TB, l *testLog, clk *fakeClock, urls []string, cfg Config) *Monitor {
	t.Helper()
	cfg.Replicas, cfg.LogKey, cfg.Now = urls, l.vkey, clk.Now
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
