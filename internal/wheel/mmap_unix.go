//go:build unix

package wheel

import (
	"fmt"
	"os"
	"runtime/debug"
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

// guard turns a fault reading the mapped wheel (the file was truncated
// while being installed: SIGBUS) into an error for member, set in *err,
// instead of a crash. Use as `defer w.guard(member, &err)()`.
func (w *Wheel) guard(member string, err *error) func() { return guard(w.Name.File, member, err) }

func guard(file, member string, err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			*err = &Error{File: file, Member: member, Msg: "the wheel file changed on disk while it was being read", Err: fmt.Errorf("%v", r)}
		}
	}
}
