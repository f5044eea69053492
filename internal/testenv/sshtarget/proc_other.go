//go:build unix && !linux

package sshtarget

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killTree kills root's process group; sessions are not tracked beyond
// Linux.
func killTree(root, port int) {
	if root > 0 {
		syscall.Kill(-root, syscall.SIGKILL)
		if p, err := os.FindProcess(root); err == nil {
			p.Kill()
		}
	}
}
