package verify_test

import (
	"runtime"
	"syscall"
	"time"
)

func maxProcs() int { return runtime.GOMAXPROCS(0) }

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
