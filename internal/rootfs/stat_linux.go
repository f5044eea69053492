package rootfs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysStat returns the device number of a syscall.Stat_t.
func sysStat(fi os.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Rdev, true
}

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
		return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	}
	return 0, 0
}

// Ctime returns a file's change time in nanoseconds.
func Ctime(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return 0
}
