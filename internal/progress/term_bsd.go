//go:build darwin || freebsd || netbsd || openbsd

package progress

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal: the kernel answers the
// terminal-attributes ioctl for it. (A character device is not enough:
// /dev/null is one.)
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TIOCGETA)
	return err == nil
}
