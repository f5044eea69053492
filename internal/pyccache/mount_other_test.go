//go:build !linux

package pyccache

import "testing"

func smallTmpfs(t *testing.T, opts string) string {
	t.Helper()
	t.Skip("mounting a small tmpfs needs Linux")
	return ""
}
