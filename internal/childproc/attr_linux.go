package childproc

import "syscall"

// SysProcAttr returns the attributes of a helper server's process.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Worker returns the attributes of a worker process: killed (SIGKILL)
// when the thread that starts it exits, which with LockedStarter is when
// the process dies.
func Worker() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
