package npmstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/lru"
)

// Usage is what a store folder holds.
type Usage struct {
	Packages int   `json:"packages"`
	Bytes    int64 `json:"bytes"`
}

// add counts f in u (n = 1), or takes it out (n = -1).
func (u *Usage) add(f lru.File, n int) {
	u.Bytes += int64(n) * f.Size
	if !f.Temp && strings.HasSuffix(f.Path, suffix) {
		u.Packages += n
	}
}

// scan lists what a prune may remove: package files and their tables,
// and the copies made for linking that no release links any more (a copy
// a release links takes no space of its own; removing it would only make
// the next linked install copy it again). Copies carry Stamp as their
// time, so they go before any package file.
func scan(dir string) ([]lru.File, Usage, error) {
	var u Usage
	files, err := lru.Scan(dir, []string{storeDir}, func(name string) bool {
		return strings.HasSuffix(name, suffix) || strings.HasSuffix(name, idxSuffix)
	})
	if err != nil {
		return nil, u, fmt.Errorf("npm store %s: %w", dir, err)
	}
	copies, err := lru.Scan(dir, []string{filesDir}, func(name string) bool {
		fi, err := os.Lstat(filepath.Join(dir, filesDir, name[:min(2, len(name))], name))
		return err == nil && linkCount(fi) <= 1
	})
	if err != nil {
		return nil, u, fmt.Errorf("npm store %s: %w", dir, err)
	}
	files = append(files, copies...)
	for _, f := range files {
		u.add(f, 1)
	}
	return files, u, nil
}

// Measure reports what the store folder dir holds.
func Measure(dir string) (Usage, error) {
	_, u, err := scan(dir)
	return u, err
}

// Prune removes the least recently used packages of the store folder dir
// until they take at most maxBytes, and temporary files left by killed
// writers. Installs may run meanwhile: a package removed under a reader
// that has it open stays readable to it.
func Prune(dir string, maxBytes int64) (before, after Usage, err error) {
	files, before, err := scan(dir)
	if err != nil {
		return before, before, err
	}
	after = before
	for _, f := range lru.Prune(files, maxBytes) {
		after.add(f, -1)
	}
	return before, after, nil
}
