package rootfs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// stat_linux.go for macOS, whose syscall.Stat_t names and sizes its fields
// differently.

// Owner returns a file's owner and group.
func Owner(fi os.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// Inode identifies a file for hard-link detection.
type Inode struct{ Dev, Ino uint64 }

// InodeOf returns fi's device and inode and its link count.
func InodeOf(fi os.FileInfo) (Inode, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return Inode{uint64(st.Dev), st.Ino}, uint64(st.Nlink)
	}
	return Inode{}, 1
}

// Rdev returns a device node's major and minor numbers.
func Rdev(fi os.FileInfo) (major, minor int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
	}
	return 0, 0
}

// Ctime returns a file's change time in nanoseconds.
func Ctime(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctimespec.Sec*1e9 + st.Ctimespec.Nsec
	}
	return 0
}
