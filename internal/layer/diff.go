// Package layer turns what a build changed in a root into reproducible
// image layers: find the changes (from an overlayfs upper directory, or
// by comparing a copied root with a snapshot taken before the build),
// split them into groups (one per pipbake set, one for everything else),
// and write each group as a tar with sorted entries, clamped times and no
// build-host names, compressed with fixed settings and cached by digest.
package layer

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// Kind is what a change does to its path.
type Kind int

const (
	// Write adds or replaces the entry (for a directory: the directory
	// itself; changed children are changes of their own).
	Write Kind = iota
	// Delete removes the path and everything below it (a whiteout).
	Delete
	// Opaque hides everything lower layers had in the directory.
	Opaque
)

func (k Kind) String() string {
	return [...]string{"write", "delete", "opaque"}[k]
}

// Change is one path a build changed, relative to the root.
type Change struct {
	Path string
	Kind Kind
}

// Excludes lists build-only paths that never reach a layer. "p" excludes
// p and everything below it; "p/" excludes what is below p but not p.
type Excludes []string

// DefaultExcludes are the paths only a build touches: the build's
// resolv.conf and the temporary folders' contents.
var DefaultExcludes = Excludes{"etc/resolv.conf", "tmp/", "var/tmp/"}

// Match reports whether rel is excluded.
func (e Excludes) Match(rel string) bool {
	for _, x := range e {
		if d, ok := strings.CutSuffix(x, "/"); ok {
			if strings.HasPrefix(rel, d+"/") {
				return true
			}
			continue
		}
		if rel == x || strings.HasPrefix(rel, x+"/") {
			return true
		}
	}
	return false
}

// FromUpper lists the changes recorded in an overlayfs upper directory
// over base (the lower layers): whiteouts become deletions, opaque
// directories opaque markers, and entries that overlayfs copied up without
// a change (same type, mode, owner, content, link target and attributes as
// in base) are dropped.
func FromUpper(upper string, base rootfs.View, ex Excludes) ([]Change, error) {
	var out []Change
	newDir := "" // "dir/" while walking below a directory new to base
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := relPath(upper, p)
		if err != nil || rel == "" {
			return err
		}
		if ex.Match(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if newDir != "" && strings.HasPrefix(rel, newDir) {
			// Below a directory the base does not have: all new.
			if !rootfs.IsWhiteout(fi) {
				out = append(out, Change{rel, Write})
			}
			return nil
		}
		newDir = ""
		_, bfi, berr := base.Lstat(rel)
		inBase := berr == nil
		if berr != nil && !errors.Is(berr, fs.ErrNotExist) {
			return berr
		}
		if !inBase && fi.IsDir() {
			newDir = rel + "/"
		}
		if rootfs.IsWhiteout(fi) {
			if inBase {
				out = append(out, Change{rel, Delete})
			}
			return nil
		}
		if fi.IsDir() {
			if inBase && bfi.IsDir() && rootfs.IsOpaque(p) {
				out = append(out, Change{rel, Opaque})
			}
			if !inBase || !sameMeta(fi, p, bfi, base, rel) {
				out = append(out, Change{rel, Write})
			}
			return nil
		}
		if inBase {
			same, err := sameEntry(fi, p, bfi, base, rel)
			if err != nil {
				return err
			}
			if same {
				return nil
			}
		}
		out = append(out, Change{rel, Write})
		return nil
	})
	return out, err
}

// Snapshot records a copied root's entries before a build, by inode and
// change time, so FromSnapshot finds what changed without comparing
// contents of untouched files.
type Snapshot struct {
	entries map[string]snapEntry
}

type snapEntry struct {
	ino   rootfs.Inode
	ctime int64
}

// Take snapshots root.
func Take(root string) (*Snapshot, error) {
	s := &Snapshot{entries: map[string]snapEntry{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := relPath(root, p)
		if err != nil || rel == "" {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		ino, _ := rootfs.InodeOf(fi)
		s.entries[rel] = snapEntry{ino, rootfs.Ctime(fi)}
		return nil
	})
	return s, err
}

// FromSnapshot lists the changes of a copied root since snap, with base
// the unchanged original to compare touched entries against.
func FromSnapshot(root string, snap *Snapshot, base rootfs.View, ex Excludes) ([]Change, error) {
	var out []Change
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := relPath(root, p)
		if err != nil || rel == "" {
			return err
		}
		seen[rel] = true
		if ex.Match(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		ino, _ := rootfs.InodeOf(fi)
		if e, ok := snap.entries[rel]; ok && e.ino == ino && e.ctime == rootfs.Ctime(fi) {
			return nil
		}
		_, bfi, berr := base.Lstat(rel)
		if berr != nil && !errors.Is(berr, fs.ErrNotExist) {
			return berr
		}
		if berr == nil {
			if fi.IsDir() {
				if sameMeta(fi, p, bfi, base, rel) {
					return nil
				}
			} else if same, err := sameEntry(fi, p, bfi, base, rel); err != nil {
				return err
			} else if same {
				return nil
			}
		}
		out = append(out, Change{rel, Write})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var gone []string
	for rel := range snap.entries {
		if !seen[rel] && !ex.Match(rel) {
			gone = append(gone, rel)
		}
	}
	sort.Strings(gone)
	for _, rel := range gone {
		if parent := path.Dir(rel); parent != "." && !seen[parent] {
			continue // its parent's deletion covers it
		}
		out = append(out, Change{rel, Delete})
	}
	return out, nil
}

// sameMeta compares type, permissions, owner and kept attributes.
func sameMeta(a os.FileInfo, ap string, b os.FileInfo, base rootfs.View, rel string) bool {
	if a.Mode() != b.Mode() {
		return false
	}
	au, ag := rootfs.Owner(a)
	bu, bg := rootfs.Owner(b)
	if au != bu || ag != bg {
		return false
	}
	bp, _, err := base.Lstat(rel)
	if err != nil {
		return false
	}
	ax, bx := rootfs.Xattrs(ap), rootfs.Xattrs(bp)
	delete(ax, rootfs.OpaqueXattr)
	delete(bx, rootfs.OpaqueXattr)
	if len(ax) != len(bx) {
		return false
	}
	for k, v := range ax {
		if bx[k] != v {
			return false
		}
	}
	return true
}

// sameEntry compares a non-directory with its base version.
func sameEntry(a os.FileInfo, ap string, b os.FileInfo, base rootfs.View, rel string) (bool, error) {
	if !sameMeta(a, ap, b, base, rel) {
		return false, nil
	}
	bp, _, err := base.Lstat(rel)
	if err != nil {
		return false, err
	}
	switch {
	case a.Mode()&os.ModeSymlink != 0:
		at, err1 := os.Readlink(ap)
		bt, err2 := os.Readlink(bp)
		return err1 == nil && err2 == nil && at == bt, nil
	case a.Mode().IsRegular():
		if a.Size() != b.Size() {
			return false, nil
		}
		return sameContent(ap, bp)
	default:
		am, an := rootfs.Rdev(a)
		bm, bn := rootfs.Rdev(b)
		return am == bm && an == bn, nil
	}
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == io.EOF || eb == io.ErrUnexpectedEOF, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

func relPath(root, p string) (string, error) {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return "", err
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}
