//go:build !unix

package wheel

import "os"

// mapFile does not map here: members are read through the file.
func mapFile(f *os.File, size int64) ([]byte, func() error, bool) { return nil, nil, false }

// guard has nothing to guard: nothing is mapped.
func (w *Wheel) guard(member string, err *error) func() { return func() {} }

func guard(file, member string, mapped []byte, err *error) func() { return func() {} }
