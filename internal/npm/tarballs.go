package npm

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// IndexName is the index `pipbake fetch` writes beside the tarballs of a
// Node set (a folder of TarballFile names, which is all Install reads).
const IndexName = "npm-tarballs.json"

// Tarballs is where Install finds the packages' tarballs: a folder of
// TarballFile names that pipbake fetch wrote, or a tar archive holding
// them (the bundle the Packer provisioner uploads), whose entries are
// read where they lie, by base name.
type Tarballs struct {
	// Path is the folder or the archive.
	Path     string
	dir      string
	f        *os.File
	sections map[string]section
}

type section struct{ off, size int64 }

// OpenTarballs opens a folder of tarballs or a tar archive of them.
func OpenTarballs(p string) (*Tarballs, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("open npm tarballs: %w", err)
	}
	if fi.IsDir() {
		return &Tarballs{Path: p, dir: p}, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open npm tarballs: %w", err)
	}
	t := &Tarballs{Path: p, f: f}
	if t.sections, err = listTarballs(f, p); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

// Close releases an archive.
func (t *Tarballs) Close() error {
	if t.f != nil {
		return t.f.Close()
	}
	return nil
}

// listTarballs reads the headers of a tar archive and notes where each
// regular entry named as TarballFile names tarballs (name@version.tgz)
// lies, by base name; other entries (the app's own tarball beside a lock
// in the Packer provisioner's bundle, say) are not tarballs of packages.
func listTarballs(r io.ReadSeeker, p string) (map[string]section, error) {
	out := map[string]section{}
	pos := &offsetReader{r: r}
	tr := tar.NewReader(pos)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read npm tarball archive %s: %w", p, err)
		}
		name := path.Base(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(name, ".tgz") || !strings.Contains(name, "@") {
			continue
		}
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				return nil, fmt.Errorf("npm tarball archive %s: %s is stored sparse; make the archive without --sparse", p, hdr.Name)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("npm tarball archive %s: %s appears twice", p, name)
		}
		out[name] = section{off: pos.off, size: hdr.Size}
	}
}

// offsetReader reads r and knows where it is; it seeks, so tar skips
// entries' content instead of reading it.
type offsetReader struct {
	r   io.ReadSeeker
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.off += int64(n)
	return n, err
}

func (o *offsetReader) Seek(offset int64, whence int) (int64, error) {
	n, err := o.r.Seek(offset, whence)
	if err == nil {
		o.off = n
	}
	return n, err
}

// MaxTarballBytes is the largest tarball read (npm's registry refuses
// packages far smaller).
const MaxTarballBytes = 1 << 30

// errNoTarball says a tarball is not there.
var errNoTarball = errors.New("no such tarball")

// Has reports whether the tarball file is there.
func (t *Tarballs) Has(file string) bool {
	if t.sections != nil {
		_, ok := t.sections[file]
		return ok
	}
	fi, err := os.Stat(filepath.Join(t.dir, file))
	return err == nil && fi.Mode().IsRegular()
}

// Read returns a tarball's bytes.
func (t *Tarballs) Read(file string) ([]byte, error) {
	if strings.ContainsAny(file, "/\\") || file == "" || file[0] == '.' {
		return nil, fmt.Errorf("tarball file name %s is no plain file name", quote(file))
	}
	if t.sections != nil {
		s, ok := t.sections[file]
		if !ok {
			return nil, errNoTarball
		}
		if s.size > MaxTarballBytes {
			return nil, fmt.Errorf("%s is larger than %d MiB", file, MaxTarballBytes>>20)
		}
		buf := make([]byte, s.size)
		if _, err := t.f.ReadAt(buf, s.off); err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", file, t.Path, err)
		}
		return buf, nil
	}
	f, err := os.Open(filepath.Join(t.dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoTarball
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Join(t.dir, file))
	}
	if fi.Size() > MaxTarballBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", file, MaxTarballBytes>>20)
	}
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(t.dir, file), err)
	}
	return buf, nil
}
