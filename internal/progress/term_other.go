//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd

package progress

import "os"

// IsTerminal reports false: pipbake draws progress in place only where it
// can ask the kernel whether a file is a terminal.
func IsTerminal(f *os.File) bool { return false }
