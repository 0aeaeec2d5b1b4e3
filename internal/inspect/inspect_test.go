package inspect

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/seal"
)

const (
	origin = "fixtap.test/inspect"
	t0     = int64(1795309581000000000) // 2026-11-22T01:06:21Z
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// key is a fixed event-signing key (seed = SHA-256("inspect-test")).
func key() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("inspect-test"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// entry is an execution report captured at ts, its EventID made for the
// capture time idTime (the tap's IDGen makes it for ts, or later).
func entry(ids *chain.IDGen, i int, ts, idTime int64, text string) *chain.Entry {
	raw := []byte("8=FIX.4.4\x019=5\x0135=8\x0134=" + strconv.Itoa(i+1) + "\x0158=" + text + "\x0110=000\x01")
	sum := sha256.Sum256(raw)
	return &chain.Entry{
		Header: chain.Header{
			EventID: ids.New(idTime).String(), TraceID: "trace-" + strconv.Itoa(i%7),
			TimestampInt: strconv.FormatInt(ts, 10),
			TimestampISO: time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z"),
			EventType:    chain.PRT, EventTypeCode: 5, TimestampPrecision: chain.PrecisionNanosecond,
			ClockSyncStatus: chain.NTPSynced, HashAlgo: chain.HashAlgoSHA256, Symbol: "JPM",
		},
		Payload: chain.Payload{
			Clock: &chain.Clock{Source: "CHRONY", MaxErrorNs: "250000", SnapshotAgeMs: 3},
			FIX: &chain.FIX{BeginString: "FIX.4.4", SessionID: "FIX.4.4:TAP->BROKER", MsgType: "8",
				MsgSeqNum: int64(i + 1), RawSHA256: hex.EncodeToString(sum[:])},
			Trade: &chain.Trade{OrderID: "O" + strconv.Itoa(i), ClOrdID: "C" + strconv.Itoa(i), ExecID: "X" + strconv.Itoa(i),
				ExecType: "F", OrdStatus: "1", Price: "123.45", Quantity: "1000", ExecutedQty: "100",
				ExecutionPrice: "123.44", CumQty: "100", RemainingQty: "900", Text: text},
		},
		Raw: raw,
	}
}

// testLog writes a sealed, signed log — rounds of events, each waited for
// until a checkpoint covers it, so checkpoints lie far apart and close
// together — and returns its dir, the seq of an event whose EventID is 10 s
// ahead of its capture time, of one with a version-4 EventID, and of one
// with control characters in its text.
// firstCheckpoint is the tree size of the first stored checkpoint that
// holds seq (the one the inspector proves seq against), 0 if none.
func firstCheckpoint(t *testing.T, db *pebble.DB, seq uint64) uint64 {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{
		LowerBound: binary.BigEndian.AppendUint64([]byte{chain.PrefixCheckpt}, seq+1),
		UpperBound: []byte{chain.PrefixCheckpt + 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.First() || len(it.Key()) != 9 {
		return 0
	}
	return binary.BigEndian.Uint64(it.Key()[1:])
}

func testLog(t *testing.T) (dir string, ahead, v4, ctl uint64) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	cfg := chain.DefaultConfig(dir)
	cfg.Durability = chain.SyncInterval
	cfg.SyncInterval = 2 * time.Millisecond
	cfg.Signer = chain.NewSigner(key())
	cfg.Logger = quiet()
	l, err := chain.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ck, _, err := seal.GenerateKey(bytes.NewReader(make([]byte, 32)), "fixtap.test")
	if err != nil {
		t.Fatal(err)
	}
	scfg := seal.DefaultConfig(origin, ck)
	scfg.Interval = time.Millisecond
	scfg.Logger = quiet()
	s, err := seal.New(ctx, l, scfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := chain.NewIDGen()
	n := 0
	round := func(k int) {
		for range k {
			ts := t0 + int64(n)*1e6
			e := entry(ids, n, ts, ts, "fill")
			switch n {
			case 1600:
				ahead = uint64(n)
				e.Header.EventID = chain.NewIDGen().New(ts + 10e9).String()
			case 1601:
				v4 = uint64(n)
				e.Header.EventID = uuid.NewString()
			case 1602:
				ctl = uint64(n)
				e = entry(ids, n, ts, ts, "\x1b[2Jpay|me\\")
			}
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if _, err := s.WaitCheckpoint(ctx, uint64(n)); err != nil {
			t.Fatal(err)
		}
	}
	round(1500)
	for range 20 {
		round(10)
	}
	round(1500)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitSigned(ctx, uint64(n)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ahead, v4, ctl
}

func openReadOnly(t *testing.T, dir string) (*chain.Log, *seal.Sealer) {
	t.Helper()
	cfg := chain.DefaultConfig(dir)
	cfg.ReadOnly = true
	cfg.TailCheck = 16 // the tests tamper with older records
	cfg.Logger = quiet()
	l, err := chain.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ck, _, _ := seal.GenerateKey(bytes.NewReader(make([]byte, 32)), "fixtap.test")
	s, err := seal.OpenReader(l, origin, ck.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return l, s
}

// TestInspect checks every event's standing against what the log and the
// seal say computed the long way, Find over every path (index windows,
// fallback scan, seq), the JSON and the text.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	dir, ahead, v4, ctl := testLog(t)
	l, s := openReadOnly(t, dir)
	in, err := New(l, s, key().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	size := l.Durable()
	all, err := s.Checkpoints(1, size+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 20 || in.TreeSize() != size {
		t.Fatalf("%d checkpoints, newest %d; want ≥ 20 and %d", len(all), in.TreeSize(), size)
	}
	// Events in order, then backwards and at random (the checkpoint cache
	// and the link's previous-event cache must not matter).
	order := make([]uint64, 0, 2*size)
	for i := range size {
		order = append(order, i)
	}
	for i := range size {
		order = append(order, size-1-i, (i*7919)%size)
	}
	for _, seq := range order {
		e, err := in.Event(seq)
		if err != nil {
			t.Fatal(err)
		}
		i := sort.Search(len(all), func(i int) bool { return all[i].Size > seq })
		want := Status{HashOK: true, LinkOK: true, Signature: SigValid, KeyID: chain.KeyIDOf(key().Public().(ed25519.PublicKey)).String(),
			Sealed: true, Checkpoint: all[i].Size, ProofOK: true, TreeSize: size}
		if e.Status != want {
			t.Fatalf("seq %d: status %+v, want %+v", seq, e.Status, want)
		}
	}

	// Find: every EventID, from the index windows or the scan.
	for _, seq := range []uint64{0, 1, 999, 1500, 1599, ahead, v4, ctl, size - 1} {
		r, err := l.Get(seq)
		if err != nil {
			t.Fatal(err)
		}
		var h struct{ EventID string }
		if err := json.Unmarshal(r.Header, &h); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []string{h.EventID, strings.ToUpper(h.EventID), strconv.FormatUint(seq, 10)} {
			got, err := Find(ctx, l, arg)
			if err != nil || got != seq {
				t.Errorf("Find(%s) = %d, %v; want %d", arg, got, err, seq)
			}
		}
	}
	for _, arg := range []string{chain.NewIDGen().New(t0 + 5e6).String(), uuid.NewString(), strconv.FormatUint(size, 10)} {
		if _, err := Find(ctx, l, arg); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%s): %v, want ErrNotFound", arg, err)
		}
	}
	for _, arg := range []string{"", "-1", "C72", "01a200ca-34bb-7642-abdd"} {
		if _, err := Find(ctx, l, arg); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("Find(%q): %v, want ErrInvalidQuery", arg, err)
		}
	}
	if _, err := in.Event(size); !errors.Is(err, ErrNotFound) {
		t.Errorf("Event(%d): %v, want ErrNotFound", size, err)
	}

	// JSON: the bundle line (Merkle position of the first covering
	// checkpoint), the raw bytes, the status.
	e, err := in.Event(ctl)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Seq   uint64
		Event struct {
			Header   json.RawMessage
			Payload  json.RawMessage
			Security chain.Security
		}
		Raw    string
		Status Status
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	raw, _ := base64.StdEncoding.DecodeString(j.Raw)
	if j.Seq != ctl || !bytes.Equal(j.Event.Header, e.Record.Header) || !bytes.Equal(j.Event.Payload, e.Record.Payload) ||
		!bytes.Equal(raw, e.Record.Raw) || j.Status != e.Status || j.Event.Security.MerkleIndex == nil ||
		*j.Event.Security.MerkleIndex != int64(ctl) || j.Event.Security.MerkleRoot != hex.EncodeToString(e.covering.Root[:]) ||
		j.Event.Security.EventHash != e.Record.Hash.String() || j.Event.Security.Signature == "" {
		t.Errorf("JSON of seq %d: %s", ctl, b)
	}

	// Text: the counterparty's control characters are escaped.
	var out bytes.Buffer
	if err := e.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"NTP_SYNCED, error bound ±250000 ns, source CHRONY, measured 3 ms before capture",
		`Text "\x1b[2Jpay|me\\"`, `58=\x1b[2Jpay\x7cme\x5c|10=000|`, "OrderID O1602", "ExecutedQty 100",
		"verifies with the configured key", "sealed", "links",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	if bytes.IndexByte(out.Bytes(), 0x1b) >= 0 || bytes.IndexByte(out.Bytes(), 0x01) >= 0 {
		t.Errorf("text holds a control character:\n%q", out.String())
	}
	var tbl bytes.Buffer
	tb := NewTable(&tbl)
	for seq := range uint64(600) {
		e, err := in.Event(seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(tbl.String()), "\n"); len(lines) != 602 || !strings.HasPrefix(lines[1], "0 ") ||
		!strings.Contains(lines[1], "F=Trade") || !strings.Contains(lines[1], "100@123.44") || !strings.Contains(lines[1], "signed,sealed") {
		t.Errorf("table of 600 events: %d lines, first row %q", len(lines), lines[1])
	}
}

// TestStandingFailures: a tampered payload, a tampered chain link and a
// signature that does not verify are reported, not hidden; so are a key
// not given and a log without checkpoints.
func TestStandingFailures(t *testing.T) {
	dir, _, _, _ := testLog(t)
	db, err := pebble.Open(dir, &pebble.Options{Logger: discard{}})
	if err != nil {
		t.Fatal(err)
	}
	ek := func(p byte, seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{p}, seq) }
	get := func(k []byte) []byte {
		v, c, err := db.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return bytes.Clone(v)
	}
	rec := get(ek(chain.PrefixEvent, 5))
	if err := db.Set(ek(chain.PrefixEvent, 5), bytes.Replace(rec, []byte(`"123.45"`), []byte(`"923.45"`), 1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	rec = get(ek(chain.PrefixEvent, 7))
	rec[1] ^= 1 // PrevHash
	if err := db.Set(ek(chain.PrefixEvent, 7), rec, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	sig := get(ek(chain.PrefixSignature, 9))
	sig[len(sig)-1] ^= 1
	if err := db.Set(ek(chain.PrefixSignature, 9), sig, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	// The stored leaf of seq x+1: the inclusion proof of seq x (its
	// sibling) no longer reaches the signed root. Only if x's first
	// covering checkpoint holds x+1 too: the sealer cuts checkpoints at
	// whatever size is durable every millisecond, so one may end at x+1.
	x := uint64(20)
	for ; ; x += 2 {
		if x > 1400 {
			t.Fatal("no even seq in 20..1400 whose first covering checkpoint holds its neighbour")
		}
		if firstCheckpoint(t, db, x) > x+1 {
			break
		}
	}
	leaf := ek(chain.PrefixTree, uint64(tlog.StoredHashIndex(0, int64(x+1))))
	h := get(leaf)
	h[0] ^= 1
	if err := db.Set(leaf, h, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	l, s := openReadOnly(t, dir)
	in, err := New(l, s, key().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[uint64]string{5: "HASH-MISMATCH,signed,sealed", 6: "signed,sealed", 7: "HASH-MISMATCH,BROKEN-LINK,signed,sealed", 9: "BAD-SIGNATURE,sealed", x: "signed,NOT-IN-TREE"} {
		e, err := in.Event(seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := StateText(&e.Status); got != want {
			t.Errorf("seq %d: %s, want %s", seq, got, want)
		}
	}
	// No key, no seal.
	in, err = New(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := in.Event(3)
	if err != nil {
		t.Fatal(err)
	}
	if got := StateText(&e.Status); got != "other-key,unsealed" || e.Status.TreeSize != 0 {
		t.Errorf("no key, no seal: %s (%+v)", got, e.Status)
	}
	var out bytes.Buffer
	if err := e.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no checkpoint yet") || !strings.Contains(out.String(), "not the configured key's") {
		t.Errorf("text:\n%s", out.String())
	}
}

type discard struct{}

func (discard) Infof(string, ...any)  {}
func (discard) Errorf(string, ...any) {}
func (discard) Fatalf(format string, args ...any) {
	panic("pebble: fatal: " + format)
}

func TestRaw(t *testing.T) {
	for in, want := range map[string]string{
		"8=FIX.4.4\x019=5\x01":    `8=FIX.4.4|9=5|`,
		"58=a|b\\c\x01":           `58=a\x7cb\x5cc|`,
		"58=\x1b[31m\xff\xc3\xa9": `58=\x1b[31m\xff\xc3\xa9`,
	} {
		if got := Raw([]byte(in)); got != want {
			t.Errorf("Raw(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"C72": "C72", "café x": "café x", "a\x1bb": `"a\x1bb"`, "\xff": `"\xff"`, "a\tb": `"a\tb"`} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %s, want %s", in, got, want)
		}
	}
}
