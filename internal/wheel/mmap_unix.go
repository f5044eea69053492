//go:build unix

package wheel

import (
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only: member reads become
// page-cache copies instead of a pread per 4 KiB. unmap releases it.
func mapFile(f *os.File, size int64) (data []byte, unmap func() error, err error) {
	if size == 0 || int64(int(size)) != size {
		return readFile(f, size)
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some file systems cannot map; reading it all works everywhere.
		return readFile(f, size)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
