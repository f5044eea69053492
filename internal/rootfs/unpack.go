package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// Format is how a layer is laid out on disk.
type Format int

const (
	// Flat applies a layer onto a tree the way a runtime does: a whiteout
	// removes what it names and an opaque marker empties its directory of
	// what lower layers put there.
	Flat Format = iota
	// Overlay unpacks a layer into an empty directory of its own in
	// overlayfs's format: a whiteout becomes a 0/0 character device and an
	// opaque directory gets the trusted.overlay.opaque=y attribute.
	Overlay
)

func (f Format) String() string {
	if f == Overlay {
		return "overlay"
	}
	return "flat"
}

// Whiteout markers of the OCI layer format.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
	// OpaqueXattr marks an opaque directory in an overlayfs layer.
	OpaqueXattr = "trusted.overlay.opaque"
)

// Options tune Unpack.
type Options struct {
	Format Format
	// NoOwners skips chown (default: chown when running as root).
	NoOwners bool
	// Meter, when set, counts the entries unpacked and the bytes read
	// (several layers may share one).
	Meter *progress.Meter
}

// Stats counts what Unpack did.
type Stats struct {
	Entries   int
	Whiteouts int
	// Skipped counts device nodes that could not be created.
	Skipped int
}

// Unpack applies the uncompressed layer tar r to dir.
func Unpack(dir string, r io.Reader, opts Options) (Stats, error) {
	u := &unpacker{root: dir, opts: opts, created: map[string]bool{}, dirs: map[string]string{}}
	if os.Geteuid() != 0 {
		u.opts.NoOwners = true
	}
	tr := tar.NewReader(opts.Meter.Reader(r))
	var st Stats
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirTimes []dirTime
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read layer: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		rel, err := CleanName(hdr.Name)
		if err != nil {
			return st, fmt.Errorf("layer entry %w", err)
		}
		if rel == "" {
			continue // the root itself
		}
		st.Entries++
		opts.Meter.Add(1)
		base := path.Base(rel)
		if strings.HasPrefix(base, WhiteoutPrefix) {
			if err := u.whiteout(rel, base); err != nil {
				return st, err
			}
			st.Whiteouts++
			continue
		}
		skipped, err := u.entry(rel, hdr, tr)
		if err != nil {
			return st, fmt.Errorf("layer entry %s: %w", hdr.Name, err)
		}
		if skipped {
			st.Skipped++
		}
		if hdr.Typeflag == tar.TypeDir {
			dirTimes = append(dirTimes, dirTime{rel, hdr.ModTime})
		}
	}
	// Directory times last (children changed them), deepest first. A later
	// entry may have replaced a folder with a symlink (to a host folder,
	// say): only a folder still at that path, resolved inside the root,
	// gets its time, never what a final link points at on the host.
	sort.Slice(dirTimes, func(i, j int) bool { return dirTimes[i].path > dirTimes[j].path })
	for _, d := range dirTimes {
		parent, err := ResolveDir(u.root, path.Dir(d.path), false) // creates nothing
		if err != nil {
			continue
		}
		p := filepath.Join(parent, path.Base(d.path))
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue
		}
		_ = setTime(p, d.t, false)
	}
	return st, nil
}

type unpacker struct {
	root string
	opts Options
	// created holds the paths this layer wrote; whiteouts and opaque
	// markers only hide what lower layers put there.
	created map[string]bool
	// dirs caches resolved parent directories.
	dirs map[string]string
}

// parent resolves the host directory holding rel.
func (u *unpacker) parent(rel string) (string, error) {
	d := path.Dir(rel)
	if d == "." {
		return u.root, nil
	}
	if p, ok := u.dirs[d]; ok {
		return p, nil
	}
	p, err := ResolveDir(u.root, d, true)
	if err != nil {
		return "", err
	}
	u.dirs[d] = p
	return p, nil
}

func (u *unpacker) whiteout(rel, base string) error {
	parent, err := u.parent(rel)
	if err != nil {
		return fmt.Errorf("whiteout %s: %w", rel, err)
	}
	if base == WhiteoutOpaque {
		dir := path.Dir(rel)
		if u.opts.Format == Overlay {
			return setOpaque(parent)
		}
		ents, err := os.ReadDir(parent)
		if err != nil {
			return fmt.Errorf("opaque %s: %w", dir, err)
		}
		for _, e := range ents {
			child := path.Join(dir, e.Name())
			if dir == "." {
				child = e.Name()
			}
			if u.createdUnder(child) {
				continue
			}
			if err := removeAll(filepath.Join(parent, e.Name())); err != nil {
				return fmt.Errorf("opaque %s: %w", dir, err)
			}
		}
		u.forget()
		return nil
	}
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if strings.HasPrefix(name, ".wh.") || name == "" || name == "." || name == ".." {
		return nil // aufs metadata (.wh..wh.plnk and friends): not content
	}
	target := path.Join(path.Dir(rel), name)
	if u.opts.Format == Overlay {
		p := filepath.Join(parent, name)
		if err := removeAll(p); err != nil {
			return err
		}
		return mkWhiteout(p)
	}
	if u.created[target] {
		return nil
	}
	if err := removeAll(filepath.Join(parent, name)); err != nil {
		return fmt.Errorf("whiteout %s: %w", target, err)
	}
	u.forget()
	return nil
}

// createdUnder reports whether this layer wrote p or anything below it.
func (u *unpacker) createdUnder(p string) bool {
	if u.created[p] {
		return true
	}
	prefix := p + "/"
	for c := range u.created {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// forget drops cached parent resolutions after something was removed.
func (u *unpacker) forget() { clear(u.dirs) }

// entry writes one non-whiteout entry; skipped is true for a device node
// that could not be created (as an unprivileged runtime does).
func (u *unpacker) entry(rel string, hdr *tar.Header, r io.Reader) (skipped bool, err error) {
	parent, err := u.parent(rel)
	if err != nil {
		return false, err
	}
	p := filepath.Join(parent, path.Base(rel))
	fi, lerr := os.Lstat(p)
	exists := lerr == nil
	// Replace what is there unless a directory meets a directory.
	if exists && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := removeAll(p); err != nil {
			return false, err
		}
		if fi.IsDir() {
			u.forget()
		}
		exists = false
	}
	delete(u.dirs, rel)
	mode := os.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists {
			if err := os.Mkdir(p, 0o700); err != nil {
				return false, err
			}
		}
	case tar.TypeReg: // tar.Reader reads the old TypeRegA as TypeReg (or TypeDir)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return false, err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return false, err
		}
		if err := f.Close(); err != nil {
			return false, err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return false, err
		}
	case tar.TypeLink:
		trel, err := CleanName(hdr.Linkname)
		if err != nil || trel == "" {
			return false, fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrEscape)
		}
		tparent, err := ResolveDir(u.root, path.Dir(trel), false)
		if err != nil {
			return false, fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
		}
		target := filepath.Join(tparent, path.Base(trel))
		tfi, err := os.Lstat(target)
		if err != nil {
			return false, fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
		}
		if tfi.IsDir() {
			return false, fmt.Errorf("hard link to directory %s", hdr.Linkname)
		}
		if err := os.Link(target, p); err != nil {
			return false, err
		}
		u.created[rel] = true
		return false, nil // the link shares its target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := mknod(p, hdr); err != nil {
			if errors.Is(err, os.ErrPermission) && hdr.Typeflag != tar.TypeFifo {
				return true, nil
			}
			return false, err
		}
	default:
		return false, fmt.Errorf("unsupported entry type %q", string(hdr.Typeflag))
	}
	u.created[rel] = true
	if !u.opts.NoOwners {
		if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return false, err
		}
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := setXattr(p, name, v); err != nil {
				return false, fmt.Errorf("xattr %s: %w", name, err)
			}
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears set-id bits.
		if err := os.Chmod(p, mode|modeBits(hdr.Mode)); err != nil {
			return false, err
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		if err := setTime(p, hdr.ModTime, hdr.Typeflag != tar.TypeSymlink); err != nil && hdr.Typeflag != tar.TypeSymlink {
			return false, err
		}
	}
	return false, nil
}

// modeBits turns a tar mode's set-id and sticky bits into os.FileMode bits.
func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// removeAll removes p, making directories writable first so odd modes do
// not stop it.
func removeAll(p string) error {
	err := os.RemoveAll(p)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_ = filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
