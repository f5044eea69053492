//go:build !unix

package packertest

import (
	"os"
	"syscall"
)

func groupAttr() *syscall.SysProcAttr { return nil }

func interruptGroup(p *os.Process) error { return p.Signal(os.Interrupt) }
