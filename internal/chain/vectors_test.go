package chain

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// vectors mirrors the parts of testdata/vcp-derived-vectors.json the chain
// reproduces (see testdata/PROVENANCE.md).
type vectors struct {
	EventHash map[string]struct {
		Header     Header
		Payload    json.RawMessage
		JCSHeader  string `json:"JCS_Header"`
		JCSPayload string `json:"JCS_Payload"`
		PrevHash   string
		Unchained  string `json:"spec_v1_1_s6_1_1_unchained"`
		GenesisV   string `json:"spec_v1_1_s6_1_2_genesis_prev_64_zeros"`
		ChainedV   string `json:"spec_v1_1_s6_1_2_chained_PrevHash_EV1"`
		HashInput  string `json:"hash_input_chained_utf8"`
		Alt        map[string]string
	} `json:"event_hash"`
	Ed25519 struct {
		Seed   string                     `json:"secret_seed"`
		Public string                     `json:"public_key"`
		EV1    map[string]json.RawMessage `json:"event_EV1"`
	} `json:"ed25519"`
}

func loadVectors(t *testing.T) (vectors, map[string]map[string]any) {
	t.Helper()
	b, err := os.ReadFile("testdata/vcp-derived-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		EventHash map[string]map[string]any `json:"event_hash"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return v, raw.EventHash
}

// The vectors' VCP-TRADE blocks use fields of the VSO examples; decode them
// into our typed Trade so the typed encoder is what gets tested.
func vectorPayload(t *testing.T, raw json.RawMessage) Payload {
	t.Helper()
	var p Payload
	dec := json.NewDecoder(bytesReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("vector payload does not fit the typed model: %v", err)
	}
	return p
}

func TestEventHashVectors(t *testing.T) {
	v, raw := loadVectors(t)
	ev1, ev2 := v.EventHash["EV-1"], v.EventHash["EV-2"]

	h1, err := AppendCanonical(nil, &ev1.Header)
	if err != nil {
		t.Fatal(err)
	}
	if string(h1) != ev1.JCSHeader {
		t.Errorf("JCS(Header) of EV-1:\n got %s\nwant %s", h1, ev1.JCSHeader)
	}
	p1, err := AppendCanonical(nil, vectorPayload(t, ev1.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if string(p1) != ev1.JCSPayload {
		t.Errorf("JCS(Payload) of EV-1:\n got %s\nwant %s", p1, ev1.JCSPayload)
	}
	got1 := EventHash(h1, p1, Hash{}, true)
	if got1.String() != ev1.GenesisV || got1.String() != ev1.Unchained {
		t.Errorf("EV-1 EventHash = %s, want %s", got1, ev1.GenesisV)
	}
	for k, val := range raw["EV-1"] {
		if s, ok := val.(string); ok && len(k) > 4 && k[:4] == "alt_" && s == got1.String() {
			t.Errorf("EV-1 EventHash equals %s, a reading the profile rejects", k)
		}
	}

	h2, err := AppendCanonical(nil, &ev2.Header)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := AppendCanonical(nil, vectorPayload(t, ev2.Payload))
	if err != nil {
		t.Fatal(err)
	}
	prev, err := ParseHash(ev2.PrevHash)
	if err != nil {
		t.Fatal(err)
	}
	if prev != got1 {
		t.Fatalf("EV-2 PrevHash %s is not EV-1's hash %s", prev, got1)
	}
	if in := string(h2) + string(p2) + prev.String(); in != ev2.HashInput {
		t.Errorf("EV-2 hash input:\n got %s\nwant %s", in, ev2.HashInput)
	}
	got2 := EventHash(h2, p2, prev, false)
	if got2.String() != ev2.ChainedV {
		t.Errorf("EV-2 chained EventHash = %s, want %s", got2, ev2.ChainedV)
	}
	if un := EventHash(h2, p2, Hash{}, true); un.String() != ev2.Unchained {
		t.Errorf("EV-2 unchained = %s, want %s", un, ev2.Unchained)
	}
	// A zero PrevHash appended as 64 '0' characters is not the genesis rule.
	if z := EventHash(h1, p1, Hash{}, false); z == got1 {
		t.Error("genesis hash must not append a zero PrevHash")
	}
}

func TestSignatureVectors(t *testing.T) {
	v, _ := loadVectors(t)
	seed, _ := hex.DecodeString(v.Ed25519.Seed)
	priv := ed25519.NewKeyFromSeed(seed)
	s := NewSigner(priv)
	if hex.EncodeToString(s.Public()) != v.Ed25519.Public {
		t.Fatalf("public key %x, want %s", s.Public(), v.Ed25519.Public)
	}
	h, err := ParseHash(v.EventHash["EV-1"].GenesisV)
	if err != nil {
		t.Fatal(err)
	}
	sig := s.Sign(h)
	var raw32, ascii struct{ Hex, Base64 string }
	for k, rv := range v.Ed25519.EV1 {
		var val struct{ Hex, Base64 string }
		if k == "EventHash" {
			continue
		}
		if err := json.Unmarshal(rv, &val); err != nil {
			t.Fatal(err)
		}
		switch {
		case len(k) >= 15 && k[:15] == "msg_raw32_bytes":
			raw32 = val
		case len(k) >= 9 && k[:9] == "msg_ascii":
			ascii = val
		}
	}
	if raw32.Hex == "" || ascii.Hex == "" {
		t.Fatal("vectors lack the msg_raw32_bytes / msg_ascii entries")
	}
	if hex.EncodeToString(sig) != raw32.Hex || SignatureString(sig) != raw32.Base64 {
		t.Errorf("signature = %s, want %s", SignatureString(sig), raw32.Base64)
	}
	if hex.EncodeToString(sig) == ascii.Hex {
		t.Error("signature equals the one over the 64 hex characters, which the profile rejects")
	}
	if !VerifySignature(s.Public(), h, sig) {
		t.Error("VerifySignature rejects a good signature")
	}
	b, _ := base64.StdEncoding.DecodeString(raw32.Base64)
	b[0] ^= 1
	if VerifySignature(s.Public(), h, b) {
		t.Error("VerifySignature accepts a corrupted signature")
	}
	// KeyID = first 8 bytes of SHA-256(raw public key), hex; the value was
	// computed with `xxd -r -p | sha256sum` from the RFC 8032 public key.
	if got := s.KeyID().String(); got != "21fe31dfa154a261" {
		t.Errorf("KeyID = %s, want 21fe31dfa154a261", got)
	}
}
