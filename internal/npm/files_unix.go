//go:build unix

package npm

import (
	"io"
	"os"
	"syscall"
)

// outFile is a file being written by an install: a bare descriptor. An
// *os.File would spend four more system calls on each of the thousands
// of files (non-blocking mode, a poller registration that regular files
// refuse, and back).
type outFile struct {
	fd   int
	path string
}

// createOut creates p, which must not exist; a symlink in its place is
// never followed.
func createOut(p string, mode os.FileMode) (*outFile, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, uint32(mode.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return &outFile{fd: fd, path: p}, nil
	}
}

func (f *outFile) Write(p []byte) (int, error) {
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

func (f *outFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &os.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
