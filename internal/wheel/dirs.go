package wheel

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Dirs remembers the directories an install has made or found, so that
// each file is created with one open (not a failed open, a stat of every
// parent and a retry) and each directory with one mkdir. Share one Dirs
// between the wheels of an environment through Options.Dirs; it is safe for
// concurrent use. The zero value is ready.
type Dirs struct{ known sync.Map }

// ensure makes dir and any missing parents.
func (d *Dirs) ensure(dir string) error {
	if _, ok := d.known.Load(dir); ok {
		return nil
	}
	err := os.Mkdir(dir, 0o777)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(dir)
		if parent == dir {
			return err
		}
		if err := d.ensure(parent); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o777)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	d.known.Store(dir, struct{}{})
	return nil
}

// create creates the file dest (which must not exist) with its parents.
func (d *Dirs) create(dest string, mode os.FileMode) (*destFile, error) {
	if err := d.ensure(filepath.Dir(dest)); err != nil {
		return nil, err
	}
	return openDest(dest, mode)
}
