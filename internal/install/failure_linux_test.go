package install

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// mountTmpfs mounts a small tmpfs (root only), unmounted at cleanup.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// immutable makes p immutable (chattr +i, root only) until the returned
// func or the test's end: even root cannot change it, or an entry of a
// folder.
func immutable(t *testing.T, p string) func() {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for chattr +i")
	}
	if out, err := exec.Command("chattr", "+i", p).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v %s", p, err, out)
	}
	undo := func() { exec.Command("chattr", "-i", p).Run() }
	t.Cleanup(undo)
	return undo
}

// freeBytes is the space left on the file system holding dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
