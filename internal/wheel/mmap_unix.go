//go:build unix

package wheel

import (
	"fmt"
	"runtime/debug"
	"unsafe"
)

// guard turns a fault reading the mapped wheel (the file was truncated
// while being installed: SIGBUS) into an error for member, set in *err,
// instead of a crash. Use as `defer w.guard(member, &err)()`.
func (w *Wheel) guard(member string, err *error) func() {
	return guard(w.Name.File, member, w.mapped, err)
}

func guard(file, member string, mapped []byte, err *error) func() {
	if mapped == nil {
		return func() {}
	}
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		// Only a fault inside this wheel's mapping is the file changing;
		// anything else is a bug to crash on.
		fault, ok := r.(interface{ Addr() uintptr })
		start := uintptr(unsafe.Pointer(unsafe.SliceData(mapped)))
		if !ok || fault.Addr() < start || fault.Addr() >= start+uintptr(len(mapped)) {
			panic(r)
		}
		*err = &Error{File: file, Member: member, Msg: "the wheel file changed on disk while it was being read", Err: fmt.Errorf("%v", r)}
	}
}
