package sshtarget

import (
	"os"
	"syscall"
)

// There is no Debian sshd on Windows, so Start fails before running
// anything; these keep the package (and the tests that import it)
// compiling there.

func sysProcAttr() *syscall.SysProcAttr { return nil }

// killTree kills root; Windows has no process groups to kill with it.
func killTree(root, port int) {
	if root > 0 {
		if p, err := os.FindProcess(root); err == nil {
			p.Kill()
		}
	}
}
