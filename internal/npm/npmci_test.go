package npm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// layout lays a fixture out into a new folder with Install and returns
// the folder and the result.
func layout(t *testing.T, f *npmtest.Fixture, dev bool, opts npm.InstallOptions) (string, *npm.Result) {
	t.Helper()
	sel, err := f.Lock.Select(f.Runtime, npm.SelectOptions{IncludeDev: dev})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := npm.OpenTarballs(f.Folder(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	dir := t.TempDir()
	pj, err := os.ReadFile(filepath.Join(f.Dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Selection, opts.Tarballs, opts.Dir = sel, tb, dir
	if opts.PackageJSON == nil {
		opts.PackageJSON = pj
	}
	start := time.Now()
	res, err := npm.Install(context.Background(), opts)
	if err != nil {
		t.Fatalf("install %s: %v", f.Name, err)
	}
	t.Logf("%s: laid out %d packages, %d files in %s", f.Name, len(res.Packages), len(res.Files), time.Since(start))
	return dir, res
}

// TestTreeEqualsNPMCI lays every fixture out and compares the tree with
// what `npm ci --omit=dev --ignore-scripts --offline` makes from the same
// tarballs: the same files, contents, modes and bin links, and the same
// node_modules/.package-lock.json as JSON.
func TestTreeEqualsNPMCI(t *testing.T) {
	type run struct {
		name string
		dev  bool
	}
	runs := []run{{"express", true}}
	for _, name := range npmtest.Names {
		runs = append(runs, run{name, false})
	}
	for _, r := range runs {
		name := r.name
		if r.dev {
			name += " with dev"
		}
		t.Run(name, func(t *testing.T) {
			f := npmtest.Get(t, r.name)
			want := f.NPMCI(t, r.dev)
			got, _ := layout(t, f, r.dev, npm.InstallOptions{})
			diffs, sameBytes, err := npmtest.CompareNodeModules(want, got)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Error(d)
			}
			if !sameBytes {
				t.Errorf("node_modules/.package-lock.json is equal as JSON but not byte for byte")
			}
		})
	}
}

// BenchmarkInstallLarge lays the large fixture out (on $PIPBAKE_BENCH_DIR,
// e.g. /dev/shm, else the test's temporary folder).
func BenchmarkInstallLarge(b *testing.B) {
	f := npmtest.Get(b, "large")
	sel, err := f.Lock.Select(f.Runtime, npm.SelectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tb, err := npm.OpenTarballs(f.Folder(b))
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	base := os.Getenv("PIPBAKE_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	for i := 0; i < b.N; i++ {
		dir, err := os.MkdirTemp(base, "layout-")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := npm.Install(context.Background(), npm.InstallOptions{Selection: sel, Tarballs: tb, Dir: dir}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
