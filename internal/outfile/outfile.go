// Package outfile creates the files and folders an install writes: each
// file with one open of a name that must not exist (a symlink in its place
// is never followed), each folder with one mkdir, and contents copied in
// few, large writes. Wheels and npm packages are laid out with it.
package outfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Dirs remembers the folders an install has made or found, so that each
// file is created with one open (not a failed open, a stat of every parent
// and a retry) and each folder with one mkdir. It is safe for concurrent
// use; the zero value is ready.
type Dirs struct{ known sync.Map }

// Ensure makes dir and any missing parents.
func (d *Dirs) Ensure(dir string) error {
	if _, ok := d.known.Load(dir); ok {
		return nil
	}
	err := os.Mkdir(dir, 0o777)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(dir)
		if parent == dir {
			return err
		}
		if err := d.Ensure(parent); err != nil {
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

// Create creates the file dest, which must not exist, with its parents.
func (d *Dirs) Create(dest string, mode os.FileMode) (*File, error) {
	if err := d.Ensure(filepath.Dir(dest)); err != nil {
		return nil, err
	}
	return Create(dest, mode)
}

// Copy copies r to out and h, filling buf before each write: a decoder
// returns at most 32 KiB a read, so most files take one write.
func Copy(out io.Writer, r io.Reader, h io.Writer, buf []byte) (int64, error) {
	var total int64
	for {
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := out.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
