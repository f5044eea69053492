//go:build unix

package cli

import "syscall"

// terminate asks pid to stop (SIGTERM: an install then stops before its
// switch and removes its new release).
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// kill ends pid at once.
func kill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
