package npmstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Usage is what a store folder holds.
type Usage struct {
	Packages int   `json:"packages"`
	Bytes    int64 `json:"bytes"`
}

type stored struct {
	path  string
	size  int64
	mtime time.Time
	temp  bool
}

func scan(dir string) ([]stored, Usage, error) {
	var out []stored
	var u Usage
	shards, err := os.ReadDir(filepath.Join(dir, storeDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, u, err
	}
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		sd := filepath.Join(dir, storeDir, sh.Name())
		ents, err := os.ReadDir(sd)
		if err != nil {
			return nil, u, err
		}
		for _, e := range ents {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue // removed meanwhile, or not ours
			}
			s := stored{path: filepath.Join(sd, e.Name()), size: info.Size(), mtime: info.ModTime(), temp: strings.HasPrefix(e.Name(), tmpPrefix)}
			if !s.temp && !strings.HasSuffix(e.Name(), suffix) {
				continue
			}
			out = append(out, s)
			if !s.temp {
				u.Packages++
			}
			u.Bytes += s.size
		}
	}
	return out, u, nil
}

// Measure reports what the store folder dir holds.
func Measure(dir string) (Usage, error) {
	_, u, err := scan(dir)
	if err != nil {
		return u, fmt.Errorf("npm store %s: %w", dir, err)
	}
	return u, nil
}

// Prune removes the least recently used packages of the store folder dir
// until they take at most maxBytes, and temporary files older than an
// hour (left by killed writers). Installs may run meanwhile: a package
// removed under a reader that has it open stays readable to it.
func Prune(dir string, maxBytes int64) (before, after Usage, err error) {
	files, before, err := scan(dir)
	if err != nil {
		return before, before, fmt.Errorf("npm store %s: %w", dir, err)
	}
	after = before
	remove := func(f stored) {
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			after.Bytes -= f.size
			if !f.temp {
				after.Packages--
			}
		}
	}
	var pkgs []stored
	now := time.Now()
	for _, f := range files {
		switch {
		case f.temp && now.Sub(f.mtime) > time.Hour:
			remove(f)
		case !f.temp:
			pkgs = append(pkgs, f)
		}
	}
	sort.Slice(pkgs, func(a, b int) bool { return pkgs[a].mtime.After(pkgs[b].mtime) })
	var kept int64
	for _, f := range pkgs {
		if kept+f.size <= maxBytes {
			kept += f.size
			continue
		}
		remove(f)
	}
	return before, after, nil
}
