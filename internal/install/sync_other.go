//go:build !linux

package install

import "os"

// syncTree flushes what it can where syncfs(2) is missing: the release
// directory itself (its files were written and closed by this process).
func syncTree(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	_ = f.Sync()
	return nil
}
