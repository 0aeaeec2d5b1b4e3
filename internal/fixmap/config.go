package fixmap

import (
	"crypto/hmac"
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
	mac := hmac.New(sha256.New, c.AccountSecret)
	mac.Write([]byte(a))
	var sum [sha256.Size]byte
	var buf [4 + 16]byte
	copy(buf[:], "acc_")
	hex.Encode(buf[4:], mac.Sum(sum[:0])[:8])
	return string(buf[:])
}
