//go:build !unix

package npmstore

import (
	"io/fs"
	"os"
	"path/filepath"
)

func (s *Store) intact(name string, size int64, perm fs.FileMode) bool {
	fi, err := os.Lstat(filepath.Join(s.dir, filesDir, filepath.FromSlash(name)))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size && fi.Mode().Perm() == perm && fi.ModTime().Equal(Stamp)
}

func (s *Store) link(name, dest string) error {
	return os.Link(filepath.Join(s.dir, filesDir, filepath.FromSlash(name)), dest)
}

// Close releases what the store holds open: nothing here.
func (s *Store) Close() error { return nil }
