//go:build unix

// Package mmap maps files read-only, so large archives are read as memory
// (page-cache copies) instead of a pread per block.
package mmap

import (
	"os"
	"syscall"
)

// File maps the first size bytes of f read-only. ok is false when the file
// cannot be mapped (empty, too big for the address space, a file system
// without mmap); the caller then reads through f. A file truncated while
// mapped faults on access (SIGBUS): readers that must survive that use
// debug.SetPanicOnFault.
func File(f *os.File, size int64) (data []byte, unmap func() error, ok bool) {
	return mapFile(f, size, 0)
}

// Populated is File with every page read in by the mapping call itself
// (MAP_POPULATE on Linux), for a file about to be read whole: one call
// instead of a fault per page.
func Populated(f *os.File, size int64) (data []byte, unmap func() error, ok bool) {
	return mapFile(f, size, populate)
}

func mapFile(f *os.File, size int64, flags int) (data []byte, unmap func() error, ok bool) {
	if size == 0 || int64(int(size)) != size {
		return nil, nil, false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|flags)
	if err != nil {
		return nil, nil, false
	}
	return data, func() error { return syscall.Munmap(data) }, true
}
