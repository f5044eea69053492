package install

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree flushes the filesystem holding dir, so a release whose receipt
// exists has all its files on disk too.
func syncTree(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
