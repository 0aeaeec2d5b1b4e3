package fixmap

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if !c.PseudonymizeAccounts {
		t.Fatal("default must pseudonymize")
	}
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("default without secret: %v", err)
	}
	c.AccountSecret = make([]byte, MinSecretLen-1)
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("short secret: %v", err)
	}
	c.AccountSecret = make([]byte, MinSecretLen)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{PseudonymizeAccounts: false}).Validate(); err != nil {
		t.Fatal(err)
	}
	c.AccountSecret = []byte("super-secret-value-1234")
	if strings.Contains(c.String(), "super-secret") {
		t.Fatal("String leaks the secret")
	}
	raw := buildFIX(fix44, hdr("0", 1)...)
	if _, err := (Config{PseudonymizeAccounts: true}).Map(mustParse(t, raw), raw, testSession); !errors.Is(err, ErrConfig) {
		t.Fatalf("Map with invalid config: %v", err)
	}
	if _, err := testConfig().Map(mustParse(t, raw), raw, "bad\xff"); !errors.Is(err, ErrInput) {
		t.Fatalf("Map with non-UTF-8 session: %v", err)
	}
}

func TestAccountID(t *testing.T) {
	c := testConfig()
	raw := buildFIX(fix44, er(1, "0", "0", "10")...)
	got, err := c.Map(mustParse(t, raw), raw, testSession)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, c.AccountSecret)
	mac.Write([]byte("ACCT-7"))
	want := "acc_" + hex.EncodeToString(mac.Sum(nil))[:16]
	if got.AccountID != want {
		t.Fatalf("AccountID = %q, want %q", got.AccountID, want)
	}
	c.PseudonymizeAccounts = false
	got, _ = c.Map(mustParse(t, raw), raw, testSession)
	if got.AccountID != "ACCT-7" {
		t.Fatalf("AccountID without pseudonymization = %q", got.AccountID)
	}
	raw = buildFIX(fix44, hdr("0", 2)...)
	got, _ = testConfig().Map(mustParse(t, raw), raw, testSession)
	if got.AccountID != "" {
		t.Fatalf("no Account (1) gave %q", got.AccountID)
	}
}

func TestMapNilAndParseFailure(t *testing.T) {
	c := testConfig()
	got, err := c.Map(nil, []byte("junk"), testSession)
	if err != nil || got.Type != "ERR" || got.Payload.ErrorDetails.ErrorCode != ErrCodeParse {
		t.Fatalf("nil message: %+v %v", got, err)
	}
	got, err = c.MapBytes([]byte("8=FIX.4.4\x019=1\x0135=\xff"), testSession, ParseOptions{})
	if err != nil || got.Payload.ErrorDetails.ErrorCode != ErrCodeParse || got.Payload.FIX.RawSHA256 == "" {
		t.Fatalf("unparseable: %+v %v", got, err)
	}
}

// TestHMACSHA256 compares the allocation-free HMAC with crypto/hmac for
// keys shorter than, equal to and longer than the block size, and messages
// that fit the stack buffer and that do not.
func TestHMACSHA256(t *testing.T) {
	for _, kl := range []int{0, 1, 16, 31, 63, 64, 65, 100, 200} {
		for _, ml := range []int{0, 1, 8, 55, 56, 64, 127, 128, 129, 300} {
			key := bytes.Repeat([]byte{byte(kl*7 + 3)}, kl)
			for i := range key {
				key[i] ^= byte(i)
			}
			msg := strings.Repeat("a", ml)
			if ml > 0 {
				msg = msg[:ml-1] + string(rune('A'+ml%26))
			}
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(msg))
			want := mac.Sum(nil)
			if got := hmacSHA256(key, msg); !bytes.Equal(got[:], want) {
				t.Fatalf("key %d bytes, message %d bytes: got %x, want %x", kl, ml, got, want)
			}
		}
	}
}
