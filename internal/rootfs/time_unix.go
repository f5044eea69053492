//go:build unix

package rootfs

import (
	"time"

	"golang.org/x/sys/unix"
)

// setTime sets a path's modification (and access) time, not following a
// final symbolic link unless follow is set.
func setTime(p string, t time.Time, follow bool) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if follow {
		flags = 0
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, flags)
}
