//go:build !unix

package wheel

import "os"

func umask() os.FileMode { return 0 }

func execMode() os.FileMode { return 0o777 }

// destFile is a file being written by an install.
type destFile struct{ *os.File }

// openDest creates dest, which must not exist. Symlinks cannot be refused
// here; destinations are checked to stay inside the environment before
// anything is written.
func openDest(dest string, mode os.FileMode) (*destFile, error) {
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return nil, err
	}
	return &destFile{f}, nil
}
