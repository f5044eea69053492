//go:build !unix

package childproc

import "syscall"

// SysProcAttr returns nil: no process groups or parent-death signal here.
func SysProcAttr() *syscall.SysProcAttr { return nil }

// Worker returns nil: no parent-death signal here.
func Worker() *syscall.SysProcAttr { return nil }
