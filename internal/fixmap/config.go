package fixmap

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("fixmap: invalid config")

// MinSecretLen is the shortest AccountSecret Validate accepts.
const MinSecretLen = 16

// Config says how messages become events.
type Config struct {
	// VenueID is copied into the event header by the caller (the tap).
	VenueID string
	// AccountSecret keys the HMAC that pseudonymizes Account (1).
	AccountSecret []byte
	// PseudonymizeAccounts replaces Account (1) with
	// "acc_" + the first 16 hex digits of HMAC-SHA256(AccountSecret, account)
	// (profile §1). When false the raw account is recorded; the operator
	// must ask for that explicitly.
	PseudonymizeAccounts bool
}

// DefaultConfig pseudonymizes accounts; the caller must still supply the
// secret, so the default does not validate on its own.
func DefaultConfig() Config { return Config{PseudonymizeAccounts: true} }

// Validate checks c; errors wrap ErrConfig.
func (c Config) Validate() error {
	if c.PseudonymizeAccounts && len(c.AccountSecret) < MinSecretLen {
		return fmt.Errorf("%w: PseudonymizeAccounts needs an AccountSecret of at least %d bytes, have %d", ErrConfig, MinSecretLen, len(c.AccountSecret))
	}
	return nil
}

// LogValue-safe description: the secret is never printed.
func (c Config) String() string {
	return fmt.Sprintf("fixmap.Config{VenueID:%q AccountSecret:[%d bytes redacted] PseudonymizeAccounts:%t}", c.VenueID, len(c.AccountSecret), c.PseudonymizeAccounts)
}

// accountID is the header/side AccountID for the FIX Account value a:
// empty for no account, else the pseudonym (or a itself when
// pseudonymization is off).
func (c Config) accountID(a string) string {
	if a == "" {
		return ""
	}
	if !c.PseudonymizeAccounts {
		return a
	}
	sum := hmacSHA256(c.AccountSecret, a)
	var buf [4 + 16]byte
	copy(buf[:], "acc_")
	hex.Encode(buf[4:], sum[:8])
	return string(buf[:])
}

// hmacSHA256 is HMAC-SHA256(key, msg) (RFC 2104: H((K0 ⊕ opad) ‖ H((K0 ⊕
// ipad) ‖ msg)), K0 the key zero-padded to the block size, or its hash
// zero-padded when longer), over stack buffers for messages up to 128
// bytes: crypto/hmac allocates two digests and two pads per call, once per
// event with an Account. TestHMACSHA256 compares it with crypto/hmac.
func hmacSHA256(key []byte, msg string) [sha256.Size]byte {
	const blockSize = sha256.BlockSize
	var k0 [blockSize]byte
	if len(key) > blockSize {
		h := sha256.Sum256(key)
		copy(k0[:], h[:])
	} else {
		copy(k0[:], key)
	}
	var ibuf [blockSize + 128]byte
	in := ibuf[:blockSize]
	for i, b := range k0 {
		in[i] = b ^ 0x36
	}
	in = append(in, msg...)
	inner := sha256.Sum256(in)
	var out [blockSize + sha256.Size]byte
	for i, b := range k0 {
		out[i] = b ^ 0x5c
	}
	copy(out[blockSize:], inner[:])
	return sha256.Sum256(out[:])
}
