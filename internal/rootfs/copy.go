package rootfs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"
)

// CopyTree copies the tree src into the existing directory dst keeping
// types, contents, modes, owners, times, the security.capability
// attribute and hard links within the tree. Symbolic links are copied,
// never followed.
func CopyTree(dst, src string) error {
	// Regular files' contents are copied by a pool of workers; everything
	// else happens in walk order. The first failure stops the walk.
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(min(2*runtime.NumCPU(), 8))
	asRoot := os.Geteuid() == 0
	err := copyTree(dst, src, func(out, src string, fi os.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err // a copy failed: g.Wait returns why
		}
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		f.Close()
		g.Go(func() error {
			if err := copyFile(out, src); err != nil {
				return err
			}
			return applyMeta(out, src, fi, asRoot)
		})
		return nil
	})
	if werr := g.Wait(); werr != nil {
		return werr
	}
	return err
}

func copyTree(dst, src string, regular func(out, src string, fi os.FileInfo) error) error {
	links := map[Inode]string{}
	type dirTime struct {
		path string
		fi   os.FileInfo
	}
	var dirs []dirTime
	asRoot := os.Geteuid() == 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if rel == "." {
			dirs = append(dirs, dirTime{out, fi})
			return applyMeta(out, p, fi, asRoot)
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			if err := os.Mkdir(out, 0o700); err != nil && !os.IsExist(err) {
				return err
			}
			dirs = append(dirs, dirTime{out, fi})
			return applyMeta(out, p, fi, asRoot)
		case mode&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, out); err != nil {
				return err
			}
			return applyMeta(out, p, fi, asRoot)
		case mode.IsRegular():
			ino, nlink := InodeOf(fi)
			if nlink > 1 {
				if first, ok := links[ino]; ok {
					return os.Link(first, out)
				}
				links[ino] = out
			}
			return regular(out, p, fi)
		default: // devices, fifos, sockets, whiteouts
			if err := copySpecial(out, fi); err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
			return applyMeta(out, p, fi, asRoot)
		}
	})
	if err != nil {
		return err
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].path > dirs[j].path })
	for _, d := range dirs {
		_ = setTime(d.path, d.fi.ModTime(), true)
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// applyMeta gives out src's owner, mode, capability and (except for
// directories, done last) times.
func applyMeta(out, src string, fi os.FileInfo, asRoot bool) error {
	if asRoot {
		uid, gid := Owner(fi)
		if err := os.Lchown(out, uid, gid); err != nil {
			return err
		}
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return setTime(out, fi.ModTime(), false)
	}
	if err := os.Chmod(out, fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return err
	}
	copyXattrs(out, src)
	if fi.IsDir() {
		return nil
	}
	return setTime(out, fi.ModTime(), true)
}
