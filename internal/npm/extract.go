package npm

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/outfile"
)

// Bounds on one tarball's content: a tarball is pinned by the lock, but
// its author may still be hostile.
const (
	MaxTarballEntries       = 500_000
	MaxTarballUnpackedBytes = 8 << 30
)

// EntryError is a tarball entry refused or that could not be written.
type EntryError struct {
	// Tarball is the tarball's file, Package the lock path and id of the
	// package it is for, Entry the entry's name in the tarball.
	Tarball, Package, Entry string
	Msg                     string
	Err                     error
}

func (e *EntryError) Error() string {
	s := e.Tarball
	if e.Package != "" {
		s += " (" + e.Package + ")"
	}
	if e.Entry != "" {
		s += ": entry " + quote(e.Entry)
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *EntryError) Unwrap() error { return e.Err }

// fileRec is a file an install wrote.
type fileRec struct {
	rel  string // relative to the release, "/"-separated
	size int64
	sum  [sha256.Size]byte
	mode fs.FileMode
	perm fs.FileMode // the mode it was created with, before the umask
}

// unpackSpec says where one tarball goes.
type unpackSpec struct {
	file  string // the tarball's file name, for messages
	label string // the package, for messages
	dest  string // folder relative to the release ("" for its root)
	// inside, when set, is asked about each entry under a node_modules
	// folder (its path relative to the release): an error refuses it.
	inside func(rel string) error
	// noNodeModules refuses any entry in a node_modules folder (the app).
	noNodeModules bool
}

// unpacked is what one tarball brought.
type unpacked struct {
	files  []fileRec
	hasGyp bool // binding.gyp at the package's root
}

// unpacker writes tarballs into one release.
type unpacker struct {
	root  string // absolute
	dirs  outfile.Dirs
	umask fs.FileMode
	link  bool // lay stored packages out as hard links (InstallOptions.Link)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// unpack writes a tarball (gzip'd or plain tar) into root/spec.dest as
// pacote does for npm: the first path component of every entry is
// dropped whatever its name; only files are written (directories come
// with them, links and devices are skipped); a .gitignore becomes
// .npmignore unless one came first; a file's mode is its tar mode's
// permission bits with read and write for all added (0666), less the
// umask. Entries with an absolute path or a ".." segment, links that
// point outside the package, and files landing in another package's
// folder are refused.
func (u *unpacker) unpack(data []byte, spec unpackSpec) (*unpacked, error) {
	fail := func(entry, msg string, err error) error {
		return &EntryError{Tarball: spec.file, Package: spec.label, Entry: entry, Msg: msg, Err: err}
	}
	var r io.Reader = bytes.NewReader(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fail("", "not a gzip'd tar", err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	out := &unpacked{}
	written := map[string]int{} // rel → index in out.files
	sawIgnores := map[string]bool{}
	var total int64
	base := filepath.Join(u.root, filepath.FromSlash(spec.dest))
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail("", "read the tarball", err)
		}
		if n >= MaxTarballEntries {
			return nil, fail("", fmt.Sprintf("has more than %d entries", MaxTarballEntries), nil)
		}
		name := hdr.Name
		rest, skip, msg := entryPath(name)
		if msg != "" {
			return nil, fail(name, msg, nil)
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			// npm skips links; one pointing out of the package is hostile.
			if skip {
				continue
			}
			if msg := linkEscapes(hdr, rest); msg != "" {
				return nil, fail(name, msg, nil)
			}
			continue
		case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse: // the Reader reads TypeRegA as TypeReg
		default:
			continue // directories are made for files; devices and the like are skipped
		}
		if skip {
			continue
		}
		if b := path.Base(name); b == ".npmignore" {
			sawIgnores[name] = true
		} else if b == ".gitignore" {
			ni := strings.TrimSuffix(name, ".gitignore") + ".npmignore"
			if sawIgnores[ni] {
				continue
			}
			rest = strings.TrimSuffix(rest, ".gitignore") + ".npmignore"
		}
		rel := rest
		if spec.dest != "" {
			rel = spec.dest + "/" + rest
		}
		if hasNodeModules(rest) {
			if spec.noNodeModules {
				return nil, fail(name, "the app may not bring files into node_modules", nil)
			}
			if spec.inside != nil {
				if err := spec.inside(rel); err != nil {
					return nil, fail(name, err.Error(), nil)
				}
			}
		}
		if hdr.Size < 0 || total+hdr.Size > MaxTarballUnpackedBytes {
			return nil, fail(name, fmt.Sprintf("the tarball unpacks to more than %d GiB", MaxTarballUnpackedBytes>>30), nil)
		}
		total += hdr.Size
		mode := (fs.FileMode(hdr.Mode)&0o777 | 0o666)
		dest := filepath.Join(base, filepath.FromSlash(rest))
		if err := u.dirs.Ensure(filepath.Dir(dest)); err != nil {
			return nil, fail(name, "make its folder", err)
		}
		f, err := outfile.Create(dest, mode)
		if err != nil && errors.Is(err, fs.ErrExist) {
			if _, again := written[rel]; !again {
				return nil, fail(name, "collides with a file already written there (by another package?)", err)
			}
			// The same path twice in one tarball: the later one wins, as
			// with npm.
			if rerr := os.Remove(dest); rerr != nil {
				return nil, fail(name, "replace the earlier entry of that name", rerr)
			}
			f, err = outfile.Create(dest, mode)
		}
		if err != nil {
			return nil, fail(name, "create "+dest, err)
		}
		h := sha256.New()
		size, err := outfile.Copy(f, tr, h, *bp)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fail(name, "write "+dest, err)
		}
		rec := fileRec{rel: rel, size: size, mode: mode &^ u.umask, perm: mode}
		h.Sum(rec.sum[:0])
		if i, again := written[rel]; again {
			out.files[i] = rec
		} else {
			written[rel] = len(out.files)
			out.files = append(out.files, rec)
		}
		if rest == "binding.gyp" {
			out.hasGyp = true
		}
	}
	return out, nil
}

// unpackStored writes a package from the store into root/spec.dest: the
// files unpack wrote the first time, with the same checks of where they
// land, their bytes and hashes from the store file (whose seal was
// checked when it was read).
func (u *unpacker) unpackStored(sp *npmstore.Package, spec unpackSpec) (*unpacked, error) {
	return u.placeStored(sp.Files, spec, "write", func(f npmstore.File, _ fs.FileMode, dest string) error {
		w, err := outfile.Create(dest, f.Mode)
		if err != nil {
			return err
		}
		_, err = w.Write(f.Data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// linkStored lays a stored package out as hard links to the store's
// copies of its files. Copies that are missing, or changed since they
// were made, are made again from the package's store file first (and its
// table kept beside it); ok is false, with no error, when the store has
// no intact file for the package: it is then unpacked from its tarball.
func (u *unpacker) linkStored(j *job, spec unpackSpec) (_ *unpacked, ok bool, _ error) {
	st := j.store
	files, indexed := st.Index(j.storeKey)
	intact := indexed
	for i := 0; intact && i < len(files); i++ {
		intact = st.Intact(files[i], files[i].Mode&^u.umask)
	}
	if !intact {
		sp, got := st.Get(j.storeKey)
		if !got {
			return nil, false, nil
		}
		defer sp.Close()
		for _, f := range sp.Files {
			perm := f.Mode &^ u.umask
			if err := st.EnsureCopy(f, perm); err != nil {
				return nil, false, fmt.Errorf("lay out %s from the npm store: %w", spec.label, err)
			}
		}
		files = sp.Files
		if !indexed {
			if err := st.PutIndex(j.storeKey, files); err != nil {
				return nil, false, fmt.Errorf("lay out %s from the npm store: %w", spec.label, err)
			}
		}
	}
	out, err := u.placeStored(files, spec, "link", func(f npmstore.File, perm fs.FileMode, dest string) error {
		return st.Link(f, perm, dest)
	})
	return out, err == nil, err
}

// placeStored puts each stored file at its place under root/spec.dest
// with put (which writes or links it, with the mode the file has there),
// after the checks unpack makes of where files land.
func (u *unpacker) placeStored(files []npmstore.File, spec unpackSpec, verb string, put func(f npmstore.File, perm fs.FileMode, dest string) error) (*unpacked, error) {
	fail := func(entry, msg string, err error) error {
		return &EntryError{Tarball: spec.file + " (from the npm store)", Package: spec.label, Entry: entry, Msg: msg, Err: err}
	}
	out := &unpacked{files: make([]fileRec, 0, len(files))}
	base := filepath.Join(u.root, filepath.FromSlash(spec.dest))
	for _, f := range files {
		rest := f.Path
		rel := rest
		if spec.dest != "" {
			rel = spec.dest + "/" + rest
		}
		if hasNodeModules(rest) {
			if spec.noNodeModules {
				return nil, fail(rest, "the app may not bring files into node_modules", nil)
			}
			if spec.inside != nil {
				if err := spec.inside(rel); err != nil {
					return nil, fail(rest, err.Error(), nil)
				}
			}
		}
		dest := filepath.Join(base, filepath.FromSlash(rest))
		if err := u.dirs.Ensure(filepath.Dir(dest)); err != nil {
			return nil, fail(rest, "make its folder", err)
		}
		perm := f.Mode &^ u.umask
		if err := put(f, perm, dest); err != nil {
			return nil, fail(rest, verb+" "+dest, err)
		}
		out.files = append(out.files, fileRec{rel: rel, size: f.Size, sum: f.SHA256, mode: perm, perm: f.Mode})
		if rest == "binding.gyp" {
			out.hasGyp = true
		}
	}
	return out, nil
}

// entryPath turns a tarball entry's name into its path inside the
// package: the first component dropped (skip: nothing is left), after
// refusing absolute names, ".." segments and control characters.
func entryPath(name string) (rest string, skip bool, msg string) {
	if name == "" {
		return "", true, ""
	}
	if strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':') {
		return "", false, "has an absolute path"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return "", false, fmt.Sprintf("has the control character %q in its name", c)
		}
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", false, "has a \"..\" segment: it would be written outside the package"
		}
	}
	_, rest, ok := strings.Cut(name, "/")
	if !ok {
		return "", true, ""
	}
	rest = strings.TrimLeft(path.Clean("/"+rest), "/")
	if rest == "" || rest == "." {
		return "", true, ""
	}
	return rest, false, ""
}

// linkEscapes says why a link entry points outside its package ("" when
// it does not).
func linkEscapes(hdr *tar.Header, rest string) string {
	target := hdr.Linkname
	if strings.HasPrefix(target, "/") {
		return fmt.Sprintf("is a link to the absolute path %s, outside the package", quote(target))
	}
	if hdr.Typeflag == tar.TypeLink {
		// A hard link names another entry of the archive.
		for _, seg := range strings.Split(target, "/") {
			if seg == ".." {
				return fmt.Sprintf("is a hard link to %s, outside the package", quote(target))
			}
		}
		return ""
	}
	if escapes(path.Dir(rest), target) {
		return fmt.Sprintf("is a symlink to %s, outside the package", quote(target))
	}
	return ""
}

// escapes reports whether target, relative to dir (both inside a
// package), climbs above the package's root.
func escapes(dir, target string) bool {
	depth := 0
	if dir != "." && dir != "" {
		depth = len(strings.Split(dir, "/"))
	}
	for _, seg := range strings.Split(target, "/") {
		switch seg {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

func hasNodeModules(rel string) bool {
	return rel == "node_modules" || strings.HasPrefix(rel, "node_modules/") || strings.Contains(rel, "/node_modules/")
}
