package session

import (
	"os"

	"golang.org/x/sys/unix"
)

// Quiet turns off echo when f is a terminal (the provisioner's session
// has one with ssh_pty): the keep-alive newlines would otherwise come back
// in the agent's output. Only the Hello sent before the agent started is
// echoed.
func Quiet(f *os.File) {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return // not a terminal
	}
	t.Lflag &^= unix.ECHO | unix.ECHONL
	_ = unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
