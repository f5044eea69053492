//go:build !unix

package wheel

import "os"

func mapFile(f *os.File, size int64) ([]byte, func() error, error) { return readFile(f, size) }

// guard has nothing to guard: the wheel was read into memory.
func (w *Wheel) guard(member string, err *error) func() { return func() {} }

func guard(file, member string, err *error) func() { return func() {} }
