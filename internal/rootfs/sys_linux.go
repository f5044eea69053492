// The Linux-only parts of rootfs: overlayfs's whiteouts and opaque
// directories, device nodes and extended attributes. sys_other.go has what
// stands in for them elsewhere.

package rootfs

import (
	"archive/tar"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

func setOpaque(dir string) error {
	return unix.Lsetxattr(dir, OpaqueXattr, []byte("y"), 0)
}

// IsOpaque reports whether an overlay layer directory is opaque.
func IsOpaque(dir string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(dir, OpaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

func mkWhiteout(p string) error {
	return unix.Mknod(p, unix.S_IFCHR, 0)
}

// IsWhiteout reports whether fi is an overlayfs whiteout (a 0/0 character
// device).
func IsWhiteout(fi os.FileInfo) bool {
	if fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	rdev, ok := sysStat(fi)
	return ok && rdev == 0
}

func mknod(p string, hdr *tar.Header) error {
	var mode uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	default:
		mode = unix.S_IFIFO
	}
	err := unix.Mknod(p, mode|0o600, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	if errors.Is(err, unix.EPERM) {
		return os.ErrPermission
	}
	return err
}

func setXattr(p, name, value string) error {
	err := unix.Lsetxattr(p, name, []byte(value), 0)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
		return nil // as runtimes do where the file system or privileges do not allow it
	}
	return err
}

// copiedXattrs are the extended attributes copies and layers keep.
var copiedXattrs = []string{"security.capability", OpaqueXattr}

// Xattrs returns the kept extended attributes of host path p.
func Xattrs(p string) map[string]string {
	var out map[string]string
	buf := make([]byte, 256)
	for _, name := range copiedXattrs {
		n, err := unix.Lgetxattr(p, name, buf)
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(buf[:n])
	}
	return out
}

// copyXattrs copies the kept attributes of src to out.
func copyXattrs(out, src string) {
	for k, v := range Xattrs(src) {
		_ = unix.Lsetxattr(out, k, []byte(v), 0)
	}
}

func copySpecial(out string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*unix.Stat_t)
	if !ok {
		return errors.New("no stat information")
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return nil // sockets are not content
	}
	return unix.Mknod(out, st.Mode, int(st.Rdev))
}
