//go:build unix

package wheel

import (
	"io"
	"os"
	"syscall"

	umaskpkg "github.com/pipbake/packer-plugin-pipbake/internal/umask"
)

func umask() os.FileMode { return umaskpkg.Get() }

// execMode is the mode pip gives executable members: 0777 less the umask,
// plus every execute bit.
func execMode() os.FileMode { return (0o777 &^ umask()) | 0o111 }

// destFile is a file being written by an install: a bare descriptor. An
// *os.File would spend four more system calls on every one of the tens of
// thousands of files (switching to non-blocking mode, a poller
// registration that regular files refuse, and back).
type destFile struct {
	fd   int
	path string
}

// openDest creates dest, which must not exist; the last component is never
// followed if it is a symlink.
func openDest(dest string, mode os.FileMode) (*destFile, error) {
	for {
		fd, err := syscall.Open(dest, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, uint32(mode.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: dest, Err: err}
		}
		return &destFile{fd: fd, path: dest}, nil
	}
}

func (f *destFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Write(f.fd, p[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: f.path, Err: err}
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
}

func (f *destFile) Chmod(mode os.FileMode) error {
	if err := syscall.Fchmod(f.fd, uint32(mode.Perm())); err != nil {
		return &os.PathError{Op: "chmod", Path: f.path, Err: err}
	}
	return nil
}

func (f *destFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &os.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
