package npmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
)

// Entry is one file, link or folder of a tree.
type Entry struct {
	Kind   byte // 'f' file, 'l' link, 'd' folder
	Mode   fs.FileMode
	SHA256 [32]byte
	Link   string
}

// Tree lists every file, link and folder under dir, by path relative to
// it ("/"-separated).
func Tree(dir string) (map[string]Entry, error) {
	out := map[string]Entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			out[rel] = Entry{Kind: 'd', Mode: fi.Mode().Perm()}
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = Entry{Kind: 'l', Link: t}
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = Entry{Kind: 'f', Mode: fi.Mode().Perm(), SHA256: sha256.Sum256(data)}
		}
		return nil
	})
	return out, err
}

// CompareNodeModules compares two projects' node_modules trees: the same
// paths, kinds, modes, contents and link targets; the hidden lockfiles
// (.package-lock.json) are compared as JSON. It returns the differences
// (at most 50) and whether the hidden lockfiles are also byte for byte
// equal.
func CompareNodeModules(want, got string) (diffs []string, hiddenSameBytes bool, err error) {
	wt, err := Tree(filepath.Join(want, "node_modules"))
	if err != nil {
		return nil, false, err
	}
	gt, err := Tree(filepath.Join(got, "node_modules"))
	if err != nil {
		return nil, false, err
	}
	var paths []string
	seen := map[string]bool{}
	for p := range wt {
		paths, seen[p] = append(paths, p), true
	}
	for p := range gt {
		if !seen[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	add := func(format string, args ...any) {
		if len(diffs) < 50 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	for _, p := range paths {
		w, inW := wt[p]
		g, inG := gt[p]
		switch {
		case !inG:
			add("missing: %s (%c)", p, w.Kind)
		case !inW:
			add("unexpected: %s (%c)", p, g.Kind)
		case p == ".package-lock.json":
			same, bytesSame, err := sameJSON(filepath.Join(want, "node_modules", p), filepath.Join(got, "node_modules", p))
			if err != nil {
				return nil, false, err
			}
			if !same {
				add("%s: differs as JSON", p)
			}
			hiddenSameBytes = bytesSame
		case w.Kind != g.Kind:
			add("%s: %c, want %c", p, g.Kind, w.Kind)
		case w.Kind == 'l' && w.Link != g.Link:
			add("%s: link to %s, want %s", p, g.Link, w.Link)
		case w.Kind != 'l' && w.Mode != g.Mode:
			add("%s: mode %o, want %o", p, g.Mode, w.Mode)
		case w.Kind == 'f' && w.SHA256 != g.SHA256:
			add("%s: content differs", p)
		}
	}
	return diffs, hiddenSameBytes, nil
}

func sameJSON(a, b string) (same, sameBytes bool, err error) {
	da, err := os.ReadFile(a)
	if err != nil {
		return false, false, err
	}
	db, err := os.ReadFile(b)
	if err != nil {
		return false, false, err
	}
	var va, vb any
	if err := json.Unmarshal(da, &va); err != nil {
		return false, false, fmt.Errorf("%s: %w", a, err)
	}
	if err := json.Unmarshal(db, &vb); err != nil {
		return false, false, fmt.Errorf("%s: %w", b, err)
	}
	return reflect.DeepEqual(va, vb), bytes.Equal(da, db), nil
}
