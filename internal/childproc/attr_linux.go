package childproc

import "syscall"

// SysProcAttr returns the attributes of a helper server's process.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
