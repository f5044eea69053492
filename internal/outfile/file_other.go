//go:build !unix

package outfile

import "os"

// File is a file being written by an install.
type File struct{ *os.File }

// Create creates p, which must not exist. Symlinks cannot be refused
// here; callers check that destinations stay inside their folder before
// anything is written.
func Create(p string, mode os.FileMode) (*File, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return nil, err
	}
	return &File{f}, nil
}
