package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// testKey is the RFC 8032 §7.1 TEST 1 key.
func testKey(t testing.TB) ed25519.PrivateKey {
	seed, err := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// testEntry returns a realistic execution-report event of about 700 bytes
// (canonical header + payload + raw FIX) for seq-like index i.
func testEntry(i int) *Entry {
	ts := int64(1732358400000000000) + int64(i)*1000
	clOrd := fmt.Sprintf("CL-%08d", i/4)
	raw := []byte(fmt.Sprintf("8=FIX.4.4\x019=200\x0135=8\x0134=%d\x0149=BROKER\x0156=TAP\x0152=20241123-10:40:00.000\x0137=ORD-%08d\x0111=%s\x0117=EX-%09d\x01150=F\x0139=1\x0155=AAPL\x0154=1\x0138=1000\x0144=123.4567\x0131=123.4560\x0132=100\x01151=900\x0114=100\x016=123.4560\x0160=20241123-10:40:00.000\x0110=000\x01",
		i+1, i/4, clOrd, i))
	return &Entry{
		Header: Header{
			EventID:            fmt.Sprintf("01934e3a-7b2c-7f93-8f2a-%012x", i),
			TraceID:            "01934e3a-6a1b-7c82-9d1b-0987654321dc",
			TimestampInt:       strconv.FormatInt(ts, 10),
			TimestampISO:       time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z"),
			EventType:          PRT,
			EventTypeCode:      5,
			TimestampPrecision: PrecisionNanosecond,
			ClockSyncStatus:    NTPSynced,
			HashAlgo:           HashAlgoSHA256,
			VenueID:            "XNAS",
			Symbol:             "AAPL",
			AccountID:          "acc_0123456789abcdef",
		},
		Payload: Payload{
			Clock: &Clock{Source: "NTP", MaxErrorNs: "250000", SnapshotAgeMs: 412},
			FIX: &FIX{BeginString: "FIX.4.4", SessionID: "FIX.4.4:TAP->BROKER", MsgType: "8", MsgSeqNum: int64(i + 1),
				SendingTime: "20241123-10:40:00.000", RawSHA256: "8f2a1234567890ab8f2a1234567890ab8f2a1234567890ab8f2a1234567890ab"},
			Trade: &Trade{OrderID: fmt.Sprintf("ORD-%08d", i/4), ClOrdID: clOrd, ExecID: fmt.Sprintf("EX-%09d", i), ExecType: "F", OrdStatus: "1",
				Side: "BUY", OrderType: "LIMIT", Price: "123.4567", Quantity: "1000", ExecutionPrice: "123.4560", ExecutedQty: "100",
				CumQty: "100", RemainingQty: "900", Currency: "USD", TransactTime: "20241123-10:40:00.000"},
			PolicyIdentification: &PolicyIdentification{Version: "1.1", PolicyID: "org.example.tap:default", ConformanceTier: "GOLD",
				RegistrationPolicy: RegistrationPolicy{Issuer: "Example Trading LLC"},
				VerificationDepth:  VerificationDepth{HashChainValidation: true, MerkleProofRequired: true, ExternalAnchorRequired: true}},
		},
		Raw: raw,
	}
}

// openTestLog opens a log in a fresh temp dir with test-friendly defaults.
func openTestLog(t testing.TB, mutate func(*Config)) (*Log, Config) {
	t.Helper()
	cfg := DefaultConfig(t.TempDir())
	cfg.Logger = quietLogger()
	if mutate != nil {
		mutate(&cfg)
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, cfg
}

// verifyAll re-checks every record of a closed-or-open log: dense seqs,
// recomputed hashes, links, and (when pub is set) signatures.
func verifyAll(t testing.TB, l *Log, pub ed25519.PublicKey) uint64 {
	t.Helper()
	var prev Hash
	n := l.Durable()
	err := l.Range(0, n, func(r *Record) error {
		if r.Seq > 0 && r.Prev != prev {
			return &BrokenLinkError{Seq: r.Seq, What: "PrevHash", Stored: r.Prev, Want: prev}
		}
		if err := r.Check(); err != nil {
			return err
		}
		if pub != nil {
			if !r.Signed {
				return fmt.Errorf("seq %d: no signature", r.Seq)
			}
			if !VerifySignature(pub, r.Hash, r.Signature[:]) {
				return fmt.Errorf("seq %d: bad signature", r.Seq)
			}
		}
		prev = r.Hash
		return nil
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return n
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// quietLogger drops Pebble's info chatter from test output.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
