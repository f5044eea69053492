//go:build !linux

package debianbase

import (
	"errors"
	"fmt"
	"os"
)

// Building the base (debootstrap, chroot) needs Linux; Cached and Key
// work anywhere.
func lockFile(f *os.File) (unlock func(), err error) {
	return nil, fmt.Errorf("building the Debian base needs Linux: %w", errors.ErrUnsupported)
}
