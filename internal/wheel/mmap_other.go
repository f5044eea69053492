//go:build !unix

package wheel

// guard has nothing to guard: nothing is mapped.
func (w *Wheel) guard(member string, err *error) func() { return func() {} }

func guard(file, member string, mapped []byte, err *error) func() { return func() {} }
