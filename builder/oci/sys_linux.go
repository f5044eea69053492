package oci

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive lock on f without waiting.
func tryLock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// roomyTmpfs reports whether dir is a tmpfs with at least 4 GiB free.
func roomyTmpfs(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == tmpfsMagic && uint64(st.Bavail)*uint64(st.Bsize) >= 4<<30
}

const tmpfsMagic = 0x01021994
