package export_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/export"
	"github.com/fixtap/fixtap/internal/fixmap"
	"github.com/fixtap/fixtap/internal/seal"
	"github.com/fixtap/fixtap/internal/verify"
	"github.com/fixtap/fixtap/internal/xref"
)

const (
	firmSession  = "FIX.4.4:TAP->FIRM"
	venueSession = "FIX.4.4:TAP->VENUE"
	base         = int64(1795000000_000000000)
)

type stamp struct{ n atomic.Int64 }

func (c *stamp) Stamp() (int64, chain.ClockSyncStatus, *chain.Clock) {
	return base + 120*int64(time.Second) + c.n.Add(1000), chain.BestEffort, &chain.Clock{Source: "SYSTEM"}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// er is a FIX 4.4 ExecutionReport (a fill) from sender.
func er(sender string, seq int, execID, qty, px string) []byte {
	body := fmt.Sprintf("35=8\x0149=%s\x0156=TAP\x0134=%d\x0152=20261121-14:30:00.000\x0137=O-%s\x0111=C-%s\x0117=%s\x01150=F\x0139=2\x0155=ACME\x0154=1\x0138=%s\x0132=%s\x0131=%s\x0114=%s\x01151=0\x016=%s\x0160=20261121-14:30:00.000\x01",
		sender, seq, execID, execID, execID, qty, qty, px, qty, px)
	msg := fmt.Sprintf("8=FIX.4.4\x019=%d\x01%s", len(body), body)
	var sum int
	for i := 0; i < len(msg); i++ {
		sum += int(msg[i])
	}
	return []byte(msg + fmt.Sprintf("10=%03d\x01", sum%256))
}

// TestXRefExportVerify: a real log with two reconciled drop copies (the
// reconciler's own outcomes: a match where the venue writes "100.0" for
// "100", a price one tick off, a fill only the venue reports), exported
// with xref.jsonl and verified: every outcome re-checked against the
// events it names, ExpectedCounterpartyHash the venue's wire-byte hash.
func TestXRefExportVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	lc := chain.DefaultConfig(filepath.Join(dir, "db"))
	lc.Logger, lc.Signer = quiet(), chain.NewSigner(priv)
	l, err := chain.Open(ctx, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := chain.NewIDGen()
	mc := fixmap.Config{PseudonymizeAccounts: false}
	pol := chain.PolicyIdentification{Version: "1.1", PolicyID: "t", ConformanceTier: "SILVER", RegistrationPolicy: chain.RegistrationPolicy{Issuer: "t"}}
	add := func(session string, ts int64, raw []byte) {
		m, err := mc.MapBytes(raw, session, fixmap.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		code, _ := m.Type.Code()
		h := chain.Header{EventID: ids.New(ts).String(), TimestampInt: strconv.FormatInt(ts, 10),
			TimestampISO: time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z"), EventType: m.Type, EventTypeCode: code,
			TimestampPrecision: chain.PrecisionNanosecond, ClockSyncStatus: chain.BestEffort, HashAlgo: chain.HashAlgoSHA256, Symbol: m.Symbol}
		p := m.Payload
		p.PolicyIdentification = &pol
		if err := l.Append(ctx, &chain.Entry{Header: h, Payload: p, Raw: raw}); err != nil {
			t.Fatal(err)
		}
	}
	ms := int64(time.Millisecond)
	add(firmSession, base, er("FIRM", 1, "E1", "100", "25.5"))
	add(venueSession, base+ms, er("VENUE", 1, "E1", "100.0", "25.50"))
	add(firmSession, base+2*ms, er("FIRM", 2, "E2", "100", "25.5"))
	add(venueSession, base+3*ms, er("VENUE", 2, "E2", "100", "25.51"))
	add(venueSession, base+4*ms, er("VENUE", 3, "E3", "50", "25.5"))
	// Log time moves past the deadline.
	add(firmSession, base+int64(time.Minute), er("FIRM", 3, "E9", "1", "1"))
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	cfg := xref.DefaultConfig()
	cfg.Groups = []xref.Group{{Name: "g", LocalRole: "INITIATOR", Local: []string{firmSession}, Counterparty: []string{venueSession},
		ExecKeys: []string{"ExecID"}, OrderKeys: []string{"ClOrdID"}, ToleranceMs: 1000, Deadline: 30 * time.Second}}
	cfg.Clock, cfg.Policy, cfg.Logger, cfg.Interval = &stamp{}, pol, quiet(), 10*time.Millisecond
	rec, err := xref.New(ctx, l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for l.Durable() < 9 && time.Now().Before(deadline) { // 6 events + 3 outcomes
		time.Sleep(20 * time.Millisecond)
	}
	if err := rec.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	key, _, err := seal.GenerateKey(rand.Reader, "fixtap/xref-test")
	if err != nil {
		t.Fatal(err)
	}
	sc := seal.DefaultConfig("fixtap/xref-test", key)
	sc.Logger = quiet()
	s, err := seal.New(ctx, l, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := s.WaitCheckpoint(wctx, l.Durable()); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitSigned(wctx, l.Durable()); err != nil {
		t.Fatal(err)
	}
	src := &export.Source{Log: l, Seal: s, Origin: "fixtap/xref-test", ManifestSigner: key.Signer, CheckpointVKey: key.VerifierKey,
		EventKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, Now: time.Now}
	out := filepath.Join(dir, "bundle")
	m, err := export.WriteDir(ctx, src, export.Request{Selection: verify.Selection{By: "all"}, All: true, XRefRecords: true}, out)
	if err != nil {
		t.Fatal(err)
	}
	if m.XRef != 3 {
		t.Fatalf("manifest counts %d VCP-XREF events, want 3 (log of %d)", m.XRef, l.Durable())
	}
	rep, err := verify.Verify(os.DirFS(out), verify.Options{})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep.Failures)
	}
	if x := rep.XRef; x == nil || x.Matched != 1 || x.Discrepancy != 1 || x.Timeout != 1 || x.Rechecked != 3 {
		t.Fatalf("xref totals %+v", rep.XRef)
	}
	// xref.jsonl: the DISCREPANCY names the price, and every paired record
	// carries the venue's RawSHA256.
	f, _ := os.Open(filepath.Join(out, verify.XRefFile))
	defer f.Close()
	sc2 := bufio.NewScanner(f)
	var paired int
	for sc2.Scan() {
		var x struct {
			ReconciliationStatus, CounterpartyEventID, ExpectedCounterpartyHash string
			DiscrepancyDetails                                                  []struct{ Field string }
		}
		json.Unmarshal(sc2.Bytes(), &x)
		if x.CounterpartyEventID != "" && x.ReconciliationStatus != "TIMEOUT" {
			paired++
			if len(x.ExpectedCounterpartyHash) != 64 {
				t.Errorf("no ExpectedCounterpartyHash: %s", sc2.Text())
			}
		}
		if x.ReconciliationStatus == "DISCREPANCY" && (len(x.DiscrepancyDetails) != 1 || x.DiscrepancyDetails[0].Field != "ExecutionPrice") {
			t.Errorf("discrepancy %s", sc2.Text())
		}
	}
	if paired != 2 {
		t.Fatalf("%d paired records in xref.jsonl", paired)
	}
	want := sha256.Sum256(er("VENUE", 1, "E1", "100.0", "25.50"))
	if b, _ := os.ReadFile(filepath.Join(out, verify.XRefFile)); !bytes.Contains(b, []byte(hex.EncodeToString(want[:]))) {
		t.Fatalf("xref.jsonl lacks the venue copy's wire hash %x", want)
	}
}
