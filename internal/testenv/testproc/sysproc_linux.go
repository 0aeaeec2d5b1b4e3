package testproc

import "syscall"

// sysProcAttr asks the kernel to SIGKILL the child when its parent dies
// (prctl PR_SET_PDEATHSIG), so a killed test binary leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
