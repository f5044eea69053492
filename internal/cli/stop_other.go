//go:build !linux

package cli

import (
	"errors"
	"os"
	"syscall"
)

// findInstalls needs /proc: the agent runs on Linux.
func findInstalls(string) ([]int, error) {
	return nil, errors.New("finding the running install needs Linux's /proc")
}

func running(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}
