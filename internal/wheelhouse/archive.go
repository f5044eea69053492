package wheelhouse

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/mmap"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// archive is a wheelhouse kept as a tar file (the bundle the Packer
// provisioner uploads): its *.whl entries are read in place, from one
// mapping of the file, and never unpacked.
type archive struct {
	path     string
	f        *os.File
	data     []byte // the mapping; nil when reading through f
	unmap    func() error
	sections map[string]section // by wheel file name
}

// section is where an entry's content lies in the archive.
type section struct{ off, size int64 }

// openArchive lists the wheels of the tar file p.
func openArchive(p string) (*House, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open wheelhouse archive: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open wheelhouse archive: %w", err)
	}
	a := &archive{path: p, f: f}
	h := &House{Dir: p, index: map[string]Entry{}, arc: a}
	if h.files, a.sections, err = listArchive(f, p); err != nil {
		f.Close()
		return nil, err
	}
	if data, unmap, ok := mmap.File(f, st.Size()); ok {
		a.data, a.unmap = data, unmap
	}
	return h, nil
}

// listArchive reads the tar headers of r (the archive p, for messages)
// and returns its wheels and where their bytes lie. Entries that are not
// regular .whl files are left out; a .whl whose base name is no plain
// file name, a sparse one or one listed twice fails it.
func listArchive(r io.ReadSeeker, p string) ([]wheel.Name, map[string]section, error) {
	var files []wheel.Name
	sections := map[string]section{}
	pos := &offsetReader{r: r}
	tr := tar.NewReader(pos)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, sections, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read wheelhouse archive %s: %w", p, err)
		}
		name := path.Base(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(name, ".whl") {
			continue
		}
		if err := wheel.CheckFileName(name); err != nil {
			return nil, nil, fmt.Errorf("wheelhouse archive %s: entry %q: %w", p, hdr.Name, err)
		}
		n, err := wheel.ParseName(name)
		if err != nil {
			continue // not ours to judge: a stray file is never chosen
		}
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") { // its content is not one run of bytes
				return nil, nil, fmt.Errorf("wheelhouse archive %s: %s is stored sparse; make the archive without --sparse", p, hdr.Name)
			}
		}
		if _, dup := sections[name]; dup {
			return nil, nil, fmt.Errorf("wheelhouse archive %s: %s appears twice", p, name)
		}
		// tar reads exactly the header blocks: the content starts here.
		sections[name] = section{off: pos.off, size: hdr.Size}
		files = append(files, n)
	}
}

// open opens one of the archive's wheels.
func (a *archive) open(file string, opts []wheel.OpenOption) (*wheel.Wheel, error) {
	s, ok := a.sections[file]
	if !ok {
		return nil, fmt.Errorf("wheelhouse archive %s has no %s", a.path, file)
	}
	if a.data != nil {
		if s.off+s.size > int64(len(a.data)) {
			return nil, fmt.Errorf("wheelhouse archive %s: %s is cut short", a.path, file)
		}
		return wheel.OpenData(file, a.data[s.off:s.off+s.size:s.off+s.size], opts...)
	}
	return wheel.OpenReaderAt(file, io.NewSectionReader(a.f, s.off, s.size), s.size, opts...)
}

func (a *archive) close() error {
	var err error
	if a.unmap != nil {
		err = a.unmap()
		a.unmap, a.data = nil, nil
	}
	return errors.Join(err, a.f.Close())
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
