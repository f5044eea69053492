package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// View reads a root made of a stack of directories, topmost first, in
// overlayfs's format (a single flat directory is a stack of one). It is
// what the merged mount would show, without mounting anything. Symbolic
// links are not followed.
type View struct {
	Dirs []string
}

// Lstat finds rel in the stack and returns the host path that holds it.
func (v View) Lstat(rel string) (string, os.FileInfo, error) {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		if len(v.Dirs) == 0 {
			return "", nil, fs.ErrNotExist
		}
		fi, err := os.Lstat(v.Dirs[0])
		return v.Dirs[0], fi, err
	}
	comps := strings.Split(rel, "/")
	for _, d := range v.Dirs {
		found, hidden, abs, fi, err := lookupIn(d, comps)
		if err != nil {
			return "", nil, err
		}
		if found {
			return abs, fi, nil
		}
		if hidden {
			break
		}
	}
	return "", nil, &fs.PathError{Op: "lstat", Path: rel, Err: fs.ErrNotExist}
}

// lookupIn looks comps up in one layer directory. hidden is set when the
// layer hides the path from the layers below (a whiteout, a file in the
// way, or an opaque ancestor).
func lookupIn(dir string, comps []string) (found, hidden bool, abs string, fi os.FileInfo, err error) {
	p := dir
	for i, c := range comps {
		p = filepath.Join(p, c)
		st, lerr := os.Lstat(p)
		if errors.Is(lerr, fs.ErrNotExist) {
			return false, hidden, "", nil, nil
		}
		if lerr != nil {
			return false, false, "", nil, lerr
		}
		if IsWhiteout(st) {
			return false, true, "", nil, nil
		}
		if i == len(comps)-1 {
			return true, true, p, st, nil
		}
		if !st.IsDir() {
			return false, true, "", nil, nil
		}
		if IsOpaque(p) {
			hidden = true
		}
	}
	return false, hidden, "", nil, nil
}

// ReadFile reads a regular file of the view.
func (v View) ReadFile(rel string) ([]byte, error) {
	abs, fi, err := v.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	return os.ReadFile(abs)
}

// ReadDir lists the names in directory rel of the view, sorted.
func (v View) ReadDir(rel string) ([]string, error) {
	rel = strings.Trim(rel, "/")
	_, fi, err := v.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", rel)
	}
	var comps []string
	if rel != "" {
		comps = strings.Split(rel, "/")
	}
	seen := map[string]bool{} // name -> visible (false: whited out above)
	for _, d := range v.Dirs {
		p := filepath.Join(append([]string{d}, comps...)...)
		st, err := os.Lstat(p)
		if err != nil || !st.IsDir() {
			// Not here; an ancestor may still hide lower layers.
			if len(comps) > 0 {
				if _, hidden, _, _, _ := lookupIn(d, comps); hidden {
					break
				}
			}
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if _, ok := seen[e.Name()]; ok {
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, err
			}
			seen[e.Name()] = !IsWhiteout(info)
		}
		if IsOpaque(p) {
			break
		}
		if len(comps) > 0 {
			if _, hidden, _, _, _ := lookupIn(d, comps[:len(comps)-1]); hidden && opaqueAncestor(d, comps) {
				break
			}
		}
	}
	var out []string
	for n, ok := range seen {
		if ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// opaqueAncestor reports whether a proper ancestor of comps is opaque in d.
func opaqueAncestor(d string, comps []string) bool {
	p := d
	for _, c := range comps[:len(comps)-1] {
		p = filepath.Join(p, c)
		if IsOpaque(p) {
			return true
		}
	}
	return false
}
