//go:build !linux && !darwin

package rootfs

import "os"

// Where syscall.Stat_t is missing (Windows) or not read here, files have
// no owner, inode or device numbers: copies and unpacked layers keep
// contents, modes and times, and hard links within a tree are copied as
// separate files.

// Owner returns 0, 0: owners are not read on this system.
func Owner(fi os.FileInfo) (uid, gid int) { return 0, 0 }

// Inode identifies a file for hard-link detection.
type Inode struct{ Dev, Ino uint64 }

// InodeOf returns a zero Inode and a link count of 1: hard links are not
// detected on this system.
func InodeOf(fi os.FileInfo) (Inode, uint64) { return Inode{}, 1 }

// Rdev returns 0, 0: device numbers are not read on this system.
func Rdev(fi os.FileInfo) (major, minor int64) { return 0, 0 }

// Ctime returns the modification time: change times are not read on this
// system.
func Ctime(fi os.FileInfo) int64 { return fi.ModTime().UnixNano() }
