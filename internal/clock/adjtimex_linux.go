package clock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// readAdjtimex reads the kernel's clock state with adjtimex(2) and modes 0,
// which changes nothing. Under systemd's ProtectClock=yes even this call can
// fail with EPERM; that is reported as an unavailable source, not an error.
func readAdjtimex() *AdjtimexData {
	var tx unix.Timex // Modes 0: read only
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return &AdjtimexData{Err: fmt.Sprintf("adjtimex: %v", err)}
	}
	off := tx.Offset
	if tx.Status&unix.STA_NANO == 0 {
		off *= 1000 // µs → ns
	}
	return &AdjtimexData{
		Available:  true,
		State:      state,
		Status:     tx.Status,
		MaxErrorUs: tx.Maxerror,
		EstErrorUs: tx.Esterror,
		OffsetNs:   off,
	}
}
