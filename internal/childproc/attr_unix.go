//go:build unix && !linux

package childproc

import "syscall"

// SysProcAttr returns the attributes of a helper server's process: its
// own process group (there is no parent-death signal here).
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// Worker returns nil: there is no parent-death signal here; workers must
// notice their parent is gone themselves (a closed pipe, getppid).
func Worker() *syscall.SysProcAttr { return nil }
