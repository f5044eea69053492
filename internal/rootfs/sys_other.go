//go:build !linux

package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
)

// Off Linux there is no overlayfs: Flat unpacking, CopyTree and View of
// plain trees work, the Overlay format does not, nothing is a whiteout or
// opaque, device nodes and fifos are not made, and the Linux extended
// attributes rootfs keeps (security.capability, trusted.overlay.opaque)
// are dropped, as where a file system does not support them.

// errNeedsLinux is what the Linux-only operations return elsewhere.
var errNeedsLinux = fmt.Errorf("rootfs: needs Linux: %w", errors.ErrUnsupported)

func setOpaque(dir string) error {
	return fmt.Errorf("mark %s opaque (overlay format): %w", dir, errNeedsLinux)
}

// IsOpaque is false off Linux: no overlay layers there.
func IsOpaque(dir string) bool { return false }

func mkWhiteout(p string) error {
	return fmt.Errorf("make the whiteout %s (overlay format): %w", p, errNeedsLinux)
}

// IsWhiteout is false off Linux: no overlay layers there.
func IsWhiteout(fi os.FileInfo) bool { return false }

func mknod(p string, hdr *tar.Header) error {
	return fmt.Errorf("make the device node or fifo %s: %w", p, errNeedsLinux)
}

func setXattr(p, name, value string) error { return nil }

// Xattrs is empty off Linux.
func Xattrs(p string) map[string]string { return nil }

func copyXattrs(out, src string) {}

func copySpecial(out string, fi os.FileInfo) error {
	if fi.Mode()&os.ModeSocket != 0 {
		return nil // sockets are not content
	}
	return fmt.Errorf("copy the device node or fifo %s: %w", out, errNeedsLinux)
}
