//go:build unix

package outfile

import (
	"io"
	"os"
	"syscall"
)

// File is a file being written by an install: a bare descriptor. An
// *os.File would spend four more system calls on every one of the tens of
// thousands of files (non-blocking mode, a poller registration that
// regular files refuse, and back).
type File struct {
	fd   int
	path string
}

// Create creates p, which must not exist; a symlink in its place is never
// followed.
func Create(p string, mode os.FileMode) (*File, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, uint32(mode.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return &File{fd: fd, path: p}, nil
	}
}

// Write writes all of p.
func (f *File) Write(p []byte) (int, error) {
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

// Chmod sets the file's permission bits (the umask does not apply).
func (f *File) Chmod(mode os.FileMode) error {
	if err := syscall.Fchmod(f.fd, uint32(mode.Perm())); err != nil {
		return &os.PathError{Op: "chmod", Path: f.path, Err: err}
	}
	return nil
}

// Close closes the descriptor.
func (f *File) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &os.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
