package basetest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// MachineRoot unpacks a Debian base with MachinePackages (built with
// debootstrap the first time, a few minutes; cached after) into a fresh
// tmpfs under /run, with /proc and the device nodes a login needs: a
// machine of its own for a chrooted sshd (sshtarget.Options.Chroot) to
// stand in for a launched instance, so a bake lands there rather than on
// this host. Unmounted when tb ends.
func MachineRoot(tb testing.TB) string {
	tb.Helper()
	machineLayout := machine.get(tb)
	// sshd's ChrootDirectory wants root-owned folders no one else can
	// write, all the way up: not under /tmp.
	dir, err := os.MkdirTemp("/run", "pipbake-machine-")
	if err != nil {
		tb.Fatalf("basetest: %v", err)
	}
	var mounted []string
	tb.Cleanup(func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			if err := syscall.Unmount(mounted[i], 0); err != nil {
				syscall.Unmount(mounted[i], syscall.MNT_DETACH)
			}
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755,size=2g"); err != nil {
		tb.Fatalf("basetest: mount a tmpfs for the machine root: %v", err)
	}
	mounted = append(mounted, dir)
	b, err := ociimage.Open(ociimage.LayoutPrefix + machineLayout)
	if err != nil {
		tb.Fatal(err)
	}
	layers, err := b.Image.Layers()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			tb.Fatal(err)
		}
		_, err = rootfs.Unpack(dir, rc, rootfs.Options{})
		rc.Close()
		if err != nil {
			tb.Fatalf("basetest: unpack the machine root: %v", err)
		}
	}
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		p := filepath.Join(dir, "dev", d.name)
		os.Remove(p)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			tb.Fatalf("basetest: mknod %s: %v", p, err)
		}
		os.Chmod(p, 0o666)
	}
	proc := filepath.Join(dir, "proc")
	os.MkdirAll(proc, 0o555)
	if err := syscall.Mount("proc", proc, "proc", 0, ""); err != nil {
		tb.Fatalf("basetest: mount /proc in the machine root: %v", err)
	}
	mounted = append(mounted, proc)
	return dir
}
