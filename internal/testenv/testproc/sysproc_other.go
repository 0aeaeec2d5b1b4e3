//go:build !linux

package testproc

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; t.Cleanup
// remains the only stop.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
