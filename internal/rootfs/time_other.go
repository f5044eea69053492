//go:build !unix

package rootfs

import (
	"os"
	"time"
)

// setTime sets a path's modification (and access) time. Without follow a
// symbolic link keeps its own time: os.Chtimes would change its target's.
func setTime(p string, t time.Time, follow bool) error {
	if !follow {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
	}
	return os.Chtimes(p, t, t)
}
