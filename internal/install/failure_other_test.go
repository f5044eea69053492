//go:build !linux

package install

import "testing"

// mountTmpfs skips: the tests that fill or freeze a small file system
// mount a Linux tmpfs.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	t.Skip("mounting a small tmpfs needs Linux")
	return ""
}

// immutable skips: chattr +i is Linux's.
func immutable(t *testing.T, p string) func() {
	t.Helper()
	t.Skip("chattr +i needs Linux")
	return nil
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	t.Skip("needs Linux")
	return 0
}
