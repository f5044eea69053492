// Package corpus makes real wheels for tests and benchmarks out of this
// machine's Python: it repacks every distribution installed in an
// interpreter's site-packages into a wheel (from its .dist-info/RECORD and
// the files on disk), computes dependency closures with that interpreter,
// collects the interpreter's bundled ensurepip wheels, and builds a tiny C
// extension wheel with gcc. Outputs are cached on disk and reused while
// their inputs are unchanged.
package corpus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Wheel is one wheel file of the corpus.
type Wheel struct {
	Name    string // project name as its metadata spells it, e.g. "Flask"
	Version string
	File    string // filename, e.g. "flask-3.1.3-py3-none-any.whl"
	Path    string // absolute path of the file
	SHA256  string // hex digest of the file
	Size    int64
}

// Set is a repacked corpus.
type Set struct {
	// Dir is the cache directory; the wheels are in Dir/wheels.
	Dir string
	// Python is the interpreter whose site-packages was repacked.
	Python string
	// Wheels are sorted by normalized name.
	Wheels []Wheel
	// Skipped names each distribution that could not be repacked, with
	// the reason.
	Skipped []string
}

// Get returns the wheel of the named distribution (any spelling of it).
func (s *Set) Get(name string) (Wheel, bool) {
	n := pyname.Normalize(name)
	for _, w := range s.Wheels {
		if pyname.Normalize(w.Name) == n {
			return w, true
		}
	}
	return Wheel{}, false
}

// Options configure Repack. The zero value repacks DefaultPython into its
// default cache directory.
type Options struct {
	// Python is the source interpreter; empty means DefaultPython().
	Python string
	// Dir is the cache directory; empty means DefaultDir(tag).
	Dir string
	// Jobs is how many distributions are repacked at once; 0 means the
	// number of CPUs.
	Jobs int
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
}

// Repack turns every distribution installed in the interpreter's
// site-packages into a wheel in Dir/wheels, reusing the cached wheel of any
// distribution whose RECORD and files are unchanged since it was built.
// Distributions that cannot be repacked are listed in Set.Skipped; an error
// means the corpus as a whole could not be made.
func Repack(ctx context.Context, opts Options) (*Set, error) {
	start := time.Now()
	python := opts.Python
	if python == "" {
		python = DefaultPython()
	}
	if err := checkPython(python); err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	in, err := Inspect(ctx, python)
	if err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = DefaultDir(in.Tag()); err != nil {
			return nil, fmt.Errorf("repack corpus: %w", err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	wheelDir := filepath.Join(dir, "wheels")
	if err := os.MkdirAll(wheelDir, 0o755); err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	defer unlock()

	distInfos, err := findDistInfos(in)
	if err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	old := loadManifest(dir, python)
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}

	// Plan every distribution (cheap: metadata and stat calls), then build
	// the stale ones largest first so the big wheels do not finish last.
	type result struct {
		d      *dist
		entry  manifestEntry
		reused bool
		err    error
	}
	results := make([]result, len(distInfos))
	parallel(ctx, jobs, len(distInfos), func(i int) {
		d, e, ok, err := planOne(in, distInfos[i], wheelDir, old)
		results[i] = result{d: d, entry: e, reused: ok, err: err}
	})
	var stale []int
	for i, r := range results {
		if r.err == nil && !r.reused {
			stale = append(stale, i)
		}
	}
	sort.SliceStable(stale, func(a, b int) bool { return results[stale[a]].d.bytes() > results[stale[b]].d.bytes() })
	parallel(ctx, jobs, len(stale), func(k int) {
		r := &results[stale[k]]
		r.entry, r.err = buildOne(in, r.d, wheelDir)
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}

	set := &Set{Dir: dir, Python: python}
	next := manifest{Version: manifestVersion, Python: python, Entries: map[string]manifestEntry{}}
	seen := map[string]string{}
	built := 0
	for i, r := range results {
		if r.err != nil {
			set.Skipped = append(set.Skipped, r.err.Error())
			continue
		}
		n := pyname.Normalize(r.entry.Name)
		if prev, dup := seen[n]; dup {
			set.Skipped = append(set.Skipped, fmt.Sprintf("repack %q: %s duplicates %s", r.entry.Name, filepath.Base(distInfos[i]), prev))
			continue
		}
		seen[n] = filepath.Base(distInfos[i])
		next.Entries[filepath.Base(distInfos[i])] = r.entry
		if !r.reused {
			built++
		}
		set.Wheels = append(set.Wheels, Wheel{
			Name: r.entry.Name, Version: r.entry.Version, File: r.entry.File,
			Path: filepath.Join(wheelDir, r.entry.File), SHA256: r.entry.SHA256, Size: r.entry.Size,
		})
	}
	sort.Slice(set.Wheels, func(i, j int) bool {
		return pyname.Normalize(set.Wheels[i].Name) < pyname.Normalize(set.Wheels[j].Name)
	})
	sort.Strings(set.Skipped)
	if err := next.save(dir); err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	if err := prune(wheelDir, set.Wheels); err != nil {
		return nil, fmt.Errorf("repack corpus: %w", err)
	}
	if opts.Logf != nil {
		opts.Logf("%d wheels (%d built, %d reused, %d skipped) from %s in %s into %s",
			len(set.Wheels), built, len(set.Wheels)-built, len(set.Skipped), python, time.Since(start).Round(time.Millisecond), wheelDir)
	}
	return set, nil
}

// parallel runs fn(0..n-1) on jobs goroutines, stopping early (leaving
// the rest undone) when ctx is cancelled.
func parallel(ctx context.Context, jobs, n int, fn func(i int)) {
	var g errgroup.Group
	g.SetLimit(max(1, jobs))
	for i := 0; i < n && ctx.Err() == nil; i++ {
		g.Go(func() error { fn(i); return nil })
	}
	_ = g.Wait()
}

// findDistInfos lists the .dist-info directories of purelib and platlib.
func findDistInfos(in *Interpreter) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, lib := range []string{in.Purelib, in.Platlib} {
		if seen[lib] {
			continue
		}
		seen[lib] = true
		entries, err := os.ReadDir(lib)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", lib, err)
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasSuffix(e.Name(), ".dist-info") {
				out = append(out, filepath.Join(lib, e.Name()))
			}
		}
	}
	return out, nil
}

// prune removes wheels in dir that are not part of the set.
func prune(dir string, keep []Wheel) error {
	want := map[string]bool{}
	for _, w := range keep {
		want[w.File] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("prune %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".whl") && !want[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("prune %s: %w", dir, err)
			}
		}
	}
	return nil
}
