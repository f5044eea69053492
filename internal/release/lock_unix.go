//go:build unix

package release

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on f, calling waiting once if another
// process holds it.
func lockFile(f *os.File, waiting func()) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		waiting()
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}
	return err
}
