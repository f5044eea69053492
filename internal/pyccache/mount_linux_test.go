package pyccache

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// smallTmpfs mounts a tmpfs with opts (root only).
func smallTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}
