package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

// FuzzParseLine: the event-line splitter and the Security parser never
// panic, and what they accept splits back into the same bytes; skipValue
// and parseSecurity agree with their first, plainer versions (ref_test.go)
// on every input: lengths, values and errors.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"Header":{"EventID":"x"},"Payload":{"A":[1,{"b":"\""}]},"Security":{"EventHash":"00","MerkleIndex":3,"Version":"1.1"}}`))
	f.Add([]byte(`{"Header":{},"Payload":{},"Security":{}}`))
	f.Add([]byte(`{"Header":"x"`))
	f.Add([]byte(`{"a\\\"b\\":["c\\\\\"d\\","\u0022",12,true]}`))
	f.Add([]byte(`{"EventHash":"ab\u0063","KeyID":null,"MerkleIndex":+7,"Version":"\"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		for i := 0; i < len(line) && i < 64; i++ {
			n, err := skipValue(line[i:])
			nr, errr := skipValueRef(line[i:])
			if n != nr || fmt.Sprint(err) != fmt.Sprint(errr) {
				t.Fatalf("skipValue(%q) = %d, %v; the reference says %d, %v", line[i:], n, err, nr, errr)
			}
		}
		sec, err := parseSecurity(line)
		secr, errr := parseSecurityRef(line)
		if fmt.Sprint(err) != fmt.Sprint(errr) || (err == nil && sec != secr) {
			t.Fatalf("parseSecurity(%q) = %+v, %v; the reference says %+v, %v", line, sec, err, secr, errr)
		}
		if len(line) >= 64 {
			h, err := parseHex32(line[:64])
			hr, errr := parseHex32Ref(string(line[:64]))
			if (err == nil) != (errr == nil) || (err == nil && h != hr) {
				t.Fatalf("parseHex32(%q) = %x, %v; the reference says %x, %v", line[:64], h, err, hr, errr)
			}
		}
		var view securityView
		vh, vp, vs, verr := parseLine(line, &view)
		h, p, s, err := splitLine(line)
		if err == nil {
			sec, err2 := parseSecurityRef(s)
			if err2 != nil {
				err = fmt.Errorf("Security: %w", err2)
			} else if verr == nil && (sec != security{Version: string(view.Version), EventHash: string(view.EventHash), PrevHash: string(view.PrevHash),
				HashAlgo: string(view.HashAlgo), Signature: string(view.Signature), SignAlgo: string(view.SignAlgo), KeyID: string(view.KeyID),
				MerkleRoot: string(view.MerkleRoot), AnchorReference: string(view.AnchorReference), MerkleIndex: view.MerkleIndex, HasIndex: view.HasIndex}) {
				t.Fatalf("parseLine(%q) parsed Security as %+v; the reference says %+v", line, view, sec)
			}
		}
		if fmt.Sprint(err) != fmt.Sprint(verr) || (err == nil && !(bytes.Equal(vh, h) && bytes.Equal(vp, p) && bytes.Equal(vs, s))) {
			t.Fatalf("parseLine(%q) = %q %q %q, %v; splitLine and parseSecurity say %q %q %q, %v", line, vh, vp, vs, verr, h, p, s, err)
		}
		if err != nil {
			return
		}
		re := append([]byte(`{"Header":`), h...)
		re = append(append(re, `,"Payload":`...), p...)
		re = append(append(re, `,"Security":`...), s...)
		if !bytes.Equal(append(re, '}'), line) {
			t.Fatalf("split %q does not reassemble", line)
		}
		parseSecurity(s)
	})
}

// FuzzParseTlogProof: the C2SP tlog-proof parser never panics.
func FuzzParseTlogProof(f *testing.F) {
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra AAAA\nindex 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\norigin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseTlogProof(b)
	})
}

// FuzzParseCheckpoint: the checkpoint text parser never panics and
// accepts only what it can reproduce.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("fixtap/x\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Add("fixtap/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n01\nAAAA\n")
	f.Fuzz(func(t *testing.T, s string) {
		origin, size, root, err := ParseCheckpointText(s)
		if err != nil {
			return
		}
		again := fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
		if again != s || size > math.MaxInt64 {
			t.Fatalf("%q parsed as %q", s, again)
		}
	})
}

// FuzzReadArchive: a hostile archive never panics the reader.
func FuzzReadArchive(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fsys, err := ReadArchive(bytes.NewReader(b)); err == nil {
			ReadManifest(fsys)
		}
	})
}

// FuzzExtract: the field extraction returns exactly the values
// encoding/json put into a Header and a Payload (member names are exact
// here, as in canonical events; encoding/json would also match other
// letter cases, which the verifier does not).
func FuzzExtract(f *testing.F) {
	f.Add("01a2-x", "EXE", "1795000000000000000", "NTP_SYNCED", "FIX.4.4:A->B", "8", int64(7), int64(2), true, false, "ab\"c\u0001", "GOLD", int64(5))
	f.Fuzz(func(t *testing.T, id, typ, ts, status, session, msgType string, seq, epoch int64, ahead, unproc bool, reason, tier string, next int64) {
		h := header{EventID: id, TimestampInt: ts, EventType: typ, ClockSyncStatus: status}
		p := payload{FIX: &fixBlock{SessionID: session, MsgType: msgType, MsgSeqNum: seq, Epoch: epoch, AheadOfSequence: ahead, Unprocessed: unproc, RawSHA256: reason},
			TapSession:           &tapSession{SessionID: session, Reason: reason, PrevEpoch: epoch, PrevNextExpected: seq, Epoch: epoch + 1, NextExpected: next},
			ErrorDetails:         &errorDetails{ErrorCode: reason},
			PolicyIdentification: &policyIdentification{PolicyID: id, ConformanceTier: tier}}
		hb, err := json.Marshal(struct {
			header
			Extra any
		}{h, map[string]any{"a": []any{1, "x", nil}}})
		if err != nil {
			return
		}
		pb, _ := json.Marshal(struct {
			payload
			Clock any `json:"Clock"`
		}{p, map[string]string{"MaxErrorNs": "1"}})
		// The reference is what encoding/json reads back (it replaces
		// invalid UTF-8 when marshalling).
		var href header
		var pref payload
		json.Unmarshal(hb, &href)
		json.Unmarshal(pb, &pref)
		h, p = href, pref
		var h2 header
		var p2 payload
		if err := extractHeader(hb, &h2); err != nil || h2 != h {
			t.Fatalf("header %s: %+v, %v", hb, h2, err)
		}
		if err := extractPayload(pb, &p2); err != nil {
			t.Fatalf("payload %s: %v", pb, err)
		}
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(p2)
		if !bytes.Equal(a, b) {
			t.Fatalf("payload %s: extracted %s", pb, b)
		}
	})
}
