package pyccache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Usage is what a cache folder holds.
type Usage struct {
	// Entries counts the loose entries; Bytes is what they, the wheel
	// packs and temporary files take (what Prune keeps under a size).
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// WheelPacks counts the wheel packs (wheelpack.go), pruned with the
	// loose entries.
	WheelPacks int `json:"wheel_packs,omitempty"`
	// Packs and PackBytes count the read-only packs (never pruned).
	Packs     int   `json:"packs,omitempty"`
	PackBytes int64 `json:"pack_bytes,omitempty"`
}

type looseFile struct {
	path  string
	size  int64
	mtime time.Time
	temp  bool
	wheel bool // a wheel pack
}

// scan lists the loose entries, wheel packs and temporary files of dir.
func scan(dir string) ([]looseFile, Usage, error) {
	var files []looseFile
	var u Usage
	for _, sub := range []string{looseDir, wheelDir} {
		shards, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, u, err
		}
		for _, sh := range shards {
			if !sh.IsDir() {
				continue
			}
			sd := filepath.Join(dir, sub, sh.Name())
			ents, err := os.ReadDir(sd)
			if err != nil {
				return nil, u, err
			}
			for _, e := range ents {
				info, err := e.Info()
				if err != nil || !info.Mode().IsRegular() {
					continue // removed meanwhile (a parallel prune), or not ours
				}
				lf := looseFile{path: filepath.Join(sd, e.Name()), size: info.Size(), mtime: info.ModTime(), temp: isTemp(e.Name()), wheel: sub == wheelDir}
				files = append(files, lf)
				switch {
				case lf.temp:
				case lf.wheel:
					u.WheelPacks++
				default:
					u.Entries++
				}
				u.Bytes += lf.size
			}
		}
	}
	packs, _ := filepath.Glob(filepath.Join(dir, packDir, "*"+PackSuffix))
	for _, p := range packs {
		if st, err := os.Stat(p); err == nil {
			u.Packs++
			u.PackBytes += st.Size()
		}
	}
	return files, u, nil
}

// Measure reports what the cache folder dir holds.
func Measure(dir string) (Usage, error) {
	_, u, err := scan(dir)
	if err != nil {
		return u, fmt.Errorf("bytecode cache %s: %w", dir, err)
	}
	return u, nil
}

// staleTemp is how old a temporary file must be for Prune to take it for
// the leftover of a killed writer.
const staleTemp = time.Hour

// Prune removes the least recently used loose entries and wheel packs of
// the cache folder dir until they take at most maxBytes, and temporary files left by
// killed writers. Installs may run meanwhile: an entry removed under a
// reader is a miss. It returns the usage before and after.
func Prune(dir string, maxBytes int64) (before, after Usage, err error) {
	files, before, err := scan(dir)
	if err != nil {
		return before, before, fmt.Errorf("bytecode cache %s: %w", dir, err)
	}
	after = before
	remove := func(f looseFile) {
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			after.Bytes -= f.size
			switch {
			case f.temp:
			case f.wheel:
				after.WheelPacks--
			default:
				after.Entries--
			}
		}
	}
	var entries []looseFile
	now := time.Now()
	for _, f := range files {
		switch {
		case f.temp && now.Sub(f.mtime) > staleTemp:
			remove(f)
		case !f.temp:
			entries = append(entries, f)
		}
	}
	// newest first; what no longer fits goes
	sort.Slice(entries, func(a, b int) bool { return entries[a].mtime.After(entries[b].mtime) })
	var kept int64
	for _, f := range entries {
		if kept+f.size <= maxBytes {
			kept += f.size
			continue
		}
		remove(f)
	}
	return before, after, nil
}

// ParseSize reads a size such as 2GB, 500MiB, 1.5G or 1048576 (bytes).
// K, M, G and T are powers of 1000 with a B and of 1024 with an iB or
// alone.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{
		{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v >= 0) || v*mult > 1<<62 { // NaN too
		return 0, fmt.Errorf("size %q: want a number of bytes, or one with a unit such as 2GB or 500MiB", s)
	}
	return int64(v * mult), nil
}

// FormatSize renders a byte count for people (1.23 GB).
func FormatSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
