//go:build !linux

package clock

func readAdjtimex() *AdjtimexData {
	return &AdjtimexData{Err: "adjtimex: not available on this platform"}
}
