package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// WriteTar writes changes as one layer tar, reading entries from src (the
// build's root as a view). Every ancestor directory of an entry is
// included; entries are sorted by path with an opaque marker first in its
// directory; times are clamped to epoch and cut to seconds; owners are
// numeric only; hard links within the layer are kept. The same changes
// over the same contents always give the same bytes.
func WriteTar(w io.Writer, src rootfs.View, changes []Change, epoch time.Time) error {
	type item struct {
		kind     Kind
		ancestor bool
	}
	items := map[string]item{}
	addAncestors := func(p string) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := items[d]; ok {
				return
			}
			items[d] = item{ancestor: true}
		}
	}
	for _, c := range changes {
		switch c.Kind {
		case Write:
			items[c.Path] = item{kind: Write}
			addAncestors(c.Path)
		case Delete:
			items[path.Join(path.Dir(c.Path), rootfs.WhiteoutPrefix+path.Base(c.Path))] = item{kind: Delete}
			addAncestors(c.Path)
		case Opaque:
			items[path.Join(c.Path, rootfs.WhiteoutOpaque)] = item{kind: Opaque}
			addAncestors(c.Path + "/x")
		}
	}
	names := make([]string, 0, len(items))
	for n := range items {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return pathLess(names[i], names[j]) })

	tw := tar.NewWriter(w)
	links := map[rootfs.Inode]string{}
	epoch = epoch.UTC().Truncate(time.Second)
	for _, name := range names {
		it := items[name]
		if it.kind == Delete || it.kind == Opaque {
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: epoch}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		abs, fi, err := src.Lstat(name)
		if err != nil {
			return fmt.Errorf("layer: %w", err)
		}
		if it.ancestor && !fi.IsDir() {
			return fmt.Errorf("layer: %s holds changed entries but is not a directory", name)
		}
		hdr, err := header(name, abs, fi, epoch)
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			if ino, nlink := rootfs.InodeOf(fi); nlink > 1 {
				if first, ok := links[ino]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[ino] = name
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("layer: %s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if err := copyFileTo(tw, abs, hdr.Size); err != nil {
				return fmt.Errorf("layer: %s: %w", name, err)
			}
		}
	}
	return tw.Close()
}

func copyFileTo(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("changed while being read (%d of %d bytes)", n, size)
	}
	return nil
}

// header describes one entry reproducibly.
func header(name, abs string, fi os.FileInfo, epoch time.Time) (*tar.Header, error) {
	mt := fi.ModTime().UTC().Truncate(time.Second)
	if mt.After(epoch) {
		mt = epoch
	}
	uid, gid := rootfs.Owner(fi)
	m := fi.Mode()
	mode := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	hdr := &tar.Header{Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: mt}
	switch {
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name = name + "/"
	case m.IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
	case m&os.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case m&os.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	case m&os.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
		if m&os.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		hdr.Devmajor, hdr.Devminor = rootfs.Rdev(fi)
	default:
		return nil, fmt.Errorf("layer: %s: cannot store a %v in a layer", name, m.Type())
	}
	if x := rootfs.Xattrs(abs); len(x) > 0 {
		for k, v := range x {
			if k == rootfs.OpaqueXattr {
				continue
			}
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	return hdr, nil
}

// pathLess orders paths component by component, so a directory comes
// right before its contents, with an opaque marker first among them.
func pathLess(a, b string) bool {
	ac, bc := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ac) && i < len(bc); i++ {
		if ac[i] == bc[i] {
			continue
		}
		if ac[i] == rootfs.WhiteoutOpaque {
			return true
		}
		if bc[i] == rootfs.WhiteoutOpaque {
			return false
		}
		return ac[i] < bc[i]
	}
	return len(ac) < len(bc)
}
