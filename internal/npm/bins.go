package npm

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Bin is one link in a node_modules/.bin folder.
type Bin struct {
	// Path is the link, relative to the release
	// ("node_modules/.bin/tsc"); Target what it points to, relative to
	// the link's folder ("../typescript/bin/tsc").
	Path, Target string
	// Package is the lock path of the package whose program it is.
	Package string
}

// binDir is the .bin folder a package's programs are linked into: the
// node_modules folder holding the package (bin-links' getNodeModules).
func binDir(pkgPath string) string {
	d := path.Dir(pkgPath)
	if path.Base(d) != "node_modules" {
		d = path.Dir(d)
	}
	return d + "/.bin"
}

// depth is a package's depth in npm's tree: the node_modules folders it
// is nested in.
func depth(p string) int {
	n := 0
	for _, seg := range strings.Split(p, "/") {
		if seg == "node_modules" {
			n++
		}
	}
	return n
}

// binOwners are the laid-out packages with programs, in the order npm
// links them: by depth, then by path in localeCompare order
// (arborist's sortNodes). The first to claim a name wins it.
func binOwners(l *Lock, pkgs []*Package) []*Package {
	var out []*Package
	for _, p := range pkgs {
		if p.Kind() == Folder {
			continue // a project folder is "top": npm links no bins for it
		}
		if binsOf(l, p) != nil {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if di, dj := depth(out[i].Path), depth(out[j].Path); di != dj {
			return di < dj
		}
		return localeCompare(out[i].Path, out[j].Path) < 0
	})
	return out
}

// binsOf is a package's programs (a link's are its target's).
func binsOf(l *Lock, p *Package) map[string]string {
	if p.Link {
		if t := l.Get(p.LinkTarget()); t != nil {
			return t.Bin
		}
		return nil
	}
	return p.Bin
}

// linkBins links every program of the laid-out packages into its
// node_modules/.bin, as npm's bin-links does: a name already claimed by
// an earlier package (binOwners' order) is left to it, even when that
// package's file is missing; a program whose file is missing gets no
// link; a linked file is made executable (0777 less the umask) and a
// "#!...\r\n" first line loses its \r. It returns the links and the
// files it changed (made executable or rewritten).
func (u *unpacker) linkBins(l *Lock, pkgs []*Package) (bins []Bin, changed []string, err error) {
	seen := map[string]bool{}
	for _, p := range binOwners(l, pkgs) {
		progs := binsOf(l, p)
		names := make([]string, 0, len(progs))
		for n := range progs {
			names = append(names, n)
		}
		sort.Strings(names)
		dir := binDir(p.Path)
		for _, name := range names {
			to := dir + "/" + name
			if seen[to] {
				continue
			}
			seen[to] = true
			absFrom := path.Join(p.Path, progs[name])
			from, err := filepath.Rel(filepath.FromSlash(dir), filepath.FromSlash(absFrom))
			if err != nil {
				return nil, nil, err
			}
			from = filepath.ToSlash(from)
			src := filepath.Join(u.root, filepath.FromSlash(absFrom))
			fi, err := os.Stat(src)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				continue // npm skips a program that is not in its package
			}
			if err != nil {
				return nil, nil, fmt.Errorf("link program %s of %s: %w", name, p.Label(), err)
			}
			if err := u.dirs.Ensure(filepath.Join(u.root, filepath.FromSlash(dir))); err != nil {
				return nil, nil, fmt.Errorf("make %s: %w", dir, err)
			}
			if err := os.Symlink(from, filepath.Join(u.root, filepath.FromSlash(to))); err != nil {
				return nil, nil, fmt.Errorf("link program %s of %s: %w", name, p.Label(), err)
			}
			bins = append(bins, Bin{Path: to, Target: from, Package: p.Path})
			// A file hard-linked from the npm store gets a copy of its
			// own first: its mode and first line are this release's.
			if err := unshare(src, fi); err != nil {
				return nil, nil, fmt.Errorf("make %s this release's own: %w", absFrom, err)
			}
			if err := os.Chmod(src, 0o777&^u.umask); err != nil {
				return nil, nil, fmt.Errorf("make %s executable: %w", absFrom, err)
			}
			if fi.Mode().IsRegular() {
				if err := dos2unixShebang(src); err != nil {
					return nil, nil, fmt.Errorf("fix the first line of %s: %w", absFrom, err)
				}
			}
			changed = append(changed, absFrom)
		}
	}
	return bins, changed, nil
}

// unshare replaces a regular file that has other hard links with a copy
// of its own (same bytes and mode), so changing it changes no other
// release and not the store.
func unshare(p string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() || linkCount(fi) <= 1 {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	tmp := p + ".pipbake-tmp"
	if err := os.WriteFile(tmp, data, fi.Mode().Perm()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// dos2unixShebang turns a "#!...\r\n" first line (within the first 2048
// bytes) into "#!...\n", as bin-links' fix-bin does.
func dos2unixShebang(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	head := make([]byte, 2048)
	n, _ := f.Read(head)
	f.Close()
	head = head[:n]
	nl := bytes.IndexByte(head, '\n')
	if !bytes.HasPrefix(head, []byte("#!")) || nl < 4 || head[nl-1] != '\r' {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	fixed := append(append([]byte{}, data[:nl-1]...), data[nl:]...)
	tmp := p + ".pipbake-tmp"
	if err := os.WriteFile(tmp, fixed, fi.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}
