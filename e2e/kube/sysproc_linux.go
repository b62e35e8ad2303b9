package kube

import "syscall"

// The servers die with the test binary, even when it is killed (go test's
// timeout, a panic): the kernel sends them SIGKILL when their parent goes.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
