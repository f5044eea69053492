// Package rootfs unpacks container image layers as a runtime would and
// reads the resulting trees.
//
// A layer is applied either onto a flat tree (Flat: whiteouts delete what
// they name, opaque directories lose what lower layers put in them) or
// into a directory of its own in overlayfs's format (Overlay: whiteouts
// become 0/0 character devices and opaque directories carry
// trusted.overlay.opaque=y), so a stack of cached layer directories can be
// mounted as overlayfs lower directories. Either way every entry is placed
// inside the root: names that climb out of it are refused, and symbolic
// links met on the way to an entry are resolved inside the root, never on
// the host.
//
// Cache keeps unpacked layers by digest; View looks paths up through a
// stack of layer directories with overlay semantics.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrEscape is returned for an entry whose name or link target leaves the
// root.
var ErrEscape = errors.New("leaves the root")

// CleanName turns a tar entry name into a clean relative path ("" for the
// root itself). Names that climb above the root with ".." are refused.
func CleanName(name string) (string, error) {
	var out []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", fmt.Errorf("%q: %w", name, ErrEscape)
			}
			out = out[:len(out)-1]
		default:
			out = append(out, c)
		}
	}
	return strings.Join(out, "/"), nil
}

// maxLinks bounds how many symbolic links one resolution follows.
const maxLinks = 255

// ResolveDir returns the host path of the directory rel (relative to
// root), following symbolic links as if root were "/": an absolute target
// starts again at root and ".." stops at root. Missing directories are
// created with mode 0755 when create is set.
func ResolveDir(root, rel string, create bool) (string, error) {
	todo := splitRel(rel)
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(root, filepath.Join(done...), c)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist) && create:
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", err
			}
			done = append(done, c)
		case err != nil:
			return "", err
		case fi.Mode()&os.ModeSymlink != 0:
			links++
			if links > maxLinks {
				return "", fmt.Errorf("%s: too many levels of symbolic links", rel)
			}
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				done = nil
			}
			todo = append(splitRel(target), todo...)
		case fi.IsDir():
			done = append(done, c)
		default:
			return "", fmt.Errorf("%s: %s is not a directory", rel, path.Join(append(done, c)...))
		}
	}
	return filepath.Join(root, filepath.Join(done...)), nil
}

func splitRel(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
