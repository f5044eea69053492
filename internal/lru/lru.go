// Package lru prunes cache folders whose files sit in shard folders
// (DIR/<kind>/<2 hex>/<name>), least recently used first: a file's
// modification time is when it was last used (readers bump it), and
// temporary files a killed writer left are removed once stale. The bytecode
// cache (internal/pyccache) and the npm store (internal/npmstore) prune
// with it.
package lru

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// TempPrefix starts the name of every temporary file a cache writes
// before renaming it into place.
const TempPrefix = ".tmp-"

// StaleTemp is how old a temporary file must be for Prune to take it for
// the leftover of a killed writer.
const StaleTemp = time.Hour

// File is one file of a cache folder.
type File struct {
	Path  string
	Size  int64
	MTime time.Time
	// Temp: a temporary file; Kind: the shard-holding folder it is in.
	Temp bool
	Kind string
}

// Scan lists the files of DIR/<kind>/<shard>/ for each kind, skipping
// what is not a regular file and, when keep is set, the names it refuses
// (temporary files are always listed). A missing kind folder is empty.
func Scan(dir string, kinds []string, keep func(name string) bool) ([]File, error) {
	var out []File
	for _, kind := range kinds {
		shards, err := os.ReadDir(filepath.Join(dir, kind))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, sh := range shards {
			if !sh.IsDir() {
				continue
			}
			sd := filepath.Join(dir, kind, sh.Name())
			ents, err := os.ReadDir(sd)
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				info, err := e.Info()
				if err != nil || !info.Mode().IsRegular() {
					continue // removed meanwhile (a parallel prune), or not ours
				}
				temp := strings.HasPrefix(e.Name(), TempPrefix)
				if !temp && keep != nil && !keep(e.Name()) {
					continue
				}
				out = append(out, File{Path: filepath.Join(sd, e.Name()), Size: info.Size(), MTime: info.ModTime(), Temp: temp, Kind: kind})
			}
		}
	}
	return out, nil
}

// Prune removes stale temporary files and, newest first, keeps the other
// files while they fit in maxBytes, removing the rest. It returns what it
// removed (a file already gone counts as removed). Readers may run
// meanwhile: a file removed under one is a miss, or stays readable
// through what it has open.
func Prune(files []File, maxBytes int64) (removed []File) {
	remove := func(f File) {
		if err := os.Remove(f.Path); err == nil || errors.Is(err, fs.ErrNotExist) {
			removed = append(removed, f)
		}
	}
	var live []File
	now := time.Now()
	for _, f := range files {
		switch {
		case f.Temp && now.Sub(f.MTime) > StaleTemp:
			remove(f)
		case !f.Temp:
			live = append(live, f)
		}
	}
	sort.SliceStable(live, func(a, b int) bool { return live[a].MTime.After(live[b].MTime) })
	var kept int64
	for _, f := range live {
		if kept+f.Size <= maxBytes {
			kept += f.Size
			continue
		}
		remove(f)
	}
	return removed
}

// Touch bumps a file's time to now when it is older than after: a read
// marks it used, at one system call per file and period at most. Best
// effort (a read-only cache).
func Touch(path string, mtime time.Time, after time.Duration) {
	if now := time.Now(); now.Sub(mtime) > after {
		_ = os.Chtimes(path, now, now)
	}
}
