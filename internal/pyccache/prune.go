package pyccache

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/lru"
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

// scan lists the loose entries, wheel packs and temporary files of dir
// (lru.File.Kind: looseDir or wheelDir), and what the folder holds.
func scan(dir string) ([]lru.File, Usage, error) {
	var u Usage
	files, err := lru.Scan(dir, []string{looseDir, wheelDir}, nil)
	if err != nil {
		return nil, u, err
	}
	for _, f := range files {
		u.add(f, 1)
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

// add counts f in u (n = 1), or takes it out (n = -1).
func (u *Usage) add(f lru.File, n int) {
	u.Bytes += int64(n) * f.Size
	switch {
	case f.Temp:
	case f.Kind == wheelDir:
		u.WheelPacks += n
	default:
		u.Entries += n
	}
}

// Measure reports what the cache folder dir holds.
func Measure(dir string) (Usage, error) {
	_, u, err := scan(dir)
	if err != nil {
		return u, fmt.Errorf("bytecode cache %s: %w", dir, err)
	}
	return u, nil
}

// Prune removes the least recently used loose entries and wheel packs of
// the cache folder dir until they take at most maxBytes, and temporary
// files left by killed writers. Installs may run meanwhile: an entry
// removed under a reader is a miss. It returns the usage before and after.
func Prune(dir string, maxBytes int64) (before, after Usage, err error) {
	files, before, err := scan(dir)
	if err != nil {
		return before, before, fmt.Errorf("bytecode cache %s: %w", dir, err)
	}
	after = before
	for _, f := range lru.Prune(files, maxBytes) {
		after.add(f, -1)
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
