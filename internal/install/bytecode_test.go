package install

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// pycInstall installs the lock into root as release id, compiling, with
// the bytecode cache cache ("" for none), and returns the result and the
// log.
func pycInstall(t *testing.T, py, wh, lockPath, root, id, cache string) (*Result, string) {
	t.Helper()
	var log bytes.Buffer
	res, err := Run(context.Background(), Set{Name: "app", Lock: lockPath, Python: py, Root: root, Compile: true},
		Options{Release: id, Wheelhouse: wh, Version: "test", BytecodeCache: cache, Log: &log})
	if err != nil {
		t.Fatalf("install %s into %s: %v\n%s", id, root, err, log.String())
	}
	rep, err := receipt.Verify(res.Path, receipt.Options{})
	if err != nil || !rep.Clean() {
		t.Fatalf("verify %s: %v %s", res.Path, err, describe(rep.Problems))
	}
	return res, log.String()
}

// counts is the install's bytecode count (in its Result, not the receipt).
func counts(t *testing.T, res *Result) Bytecode {
	t.Helper()
	if res.Bytecode == nil {
		t.Fatal("the result has no bytecode count")
	}
	return *res.Bytecode
}

// fileTree describes every file, link and folder under dir: mode, and the
// sha256 of a file's bytes or a link's target.
func fileTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			desc += " -> " + to
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			desc += " " + hex.EncodeToString(sum[:])
		}
		out[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameFiles fails the test with the differences between two trees.
func sameFiles(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range a {
		if b[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %q vs %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing vs %q", k, v))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%s: %d differences:\n%s", what, len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
}

// pycs are the .pyc files of a tree.
func pycs(tr map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tr {
		if strings.HasSuffix(k, ".pyc") {
			out[k] = v
		}
	}
	return out
}

// TestBytecodeCacheColdWarm: a cold install (empty cache) compiles every
// module and fills the cache; a warm one of the same lock into the same
// root and release compiles nothing, copies every .pyc from the cache,
// and gives a bit-identical tree (modes included, the receipt too); the
// app runs.
func TestBytecodeCacheColdWarm(t *testing.T) {
	py := corpustest.Python(t)
	wh, lockPath := house(t, flaskClosure(t))
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	cache := filepath.Join(t.TempDir(), "pyc")
	root := filepath.Join(t.TempDir(), "srv", "app")
	cold, log := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	c := counts(t, cold)
	if c.Compiled == 0 || c.Cached != 0 {
		t.Fatalf("cold: %+v", c)
	}
	if !strings.Contains(log, fmt.Sprintf("pipbake: app: bytecode: 0 .pyc from the cache, %d compiled (bytecode cache %s)", c.Compiled, cache)) {
		t.Errorf("the log does not count the bytecode:\n%s", log)
	}
	u, err := pyccache.Measure(cache)
	if err != nil || u.Entries != c.Compiled {
		t.Fatalf("the cache holds %+v (%v), want %d entries", u, err, c.Compiled)
	}
	coldTree := fileTree(t, cold.Path)
	if n := len(pycs(coldTree)); n != c.Compiled {
		t.Fatalf("%d .pyc files, %d compiled", n, c.Compiled)
	}
	os.RemoveAll(root)

	warm, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	if w := counts(t, warm); w.Compiled != 0 || w.Cached != c.Compiled {
		t.Fatalf("warm: %+v, want all %d from the cache", w, c.Compiled)
	}
	sameFiles(t, "cold and warm installs", coldTree, fileTree(t, warm.Path))
	if out := run(t, filepath.Join(root, "current", "bin", "flask"), "--version"); !strings.Contains(out, "Flask") {
		t.Fatal(out)
	}
}

// TestBytecodeIndependentOfRelease: two releases with different ids in
// different roots, compiled without a cache, have the same .pyc bytes;
// and so does a third whose .pyc files all come from a cache filled by
// yet another root. (It failed before co_filename was made relative to
// the environment: each .pyc held its release's path.)
func TestBytecodeIndependentOfRelease(t *testing.T) {
	py := corpustest.Python(t)
	six, _ := corpustest.Set(t).Get("six")
	click, _ := corpustest.Set(t).Get("click")
	wh, lockPath := house(t, []corpus.Wheel{six, click})
	a, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "a"), "r1", "")
	b, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "b"), "20261201T000000Z", "")
	pa, pb := pycs(fileTree(t, a.Path)), pycs(fileTree(t, b.Path))
	if len(pa) == 0 {
		t.Fatal("no .pyc")
	}
	sameFiles(t, "the .pyc files of two releases", pa, pb)
	cache := filepath.Join(t.TempDir(), "pyc")
	pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "fill"), "x", cache)
	c, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "c"), "r3", cache)
	if n := counts(t, c); n.Compiled != 0 || n.Cached != len(pa) {
		t.Fatalf("counts %+v, want %d cached", n, len(pa))
	}
	sameFiles(t, "the .pyc files of a release from the cache", pa, pycs(fileTree(t, c.Path)))
}

// TestCachedBytecodeRuntime, for every interpreter: a module whose .pyc
// came from a cache filled by an install into another root is loaded from
// that .pyc (python -v says "code object from" it; -X importtime lists
// the import), and at run time its __file__, co_filename and traceback
// name the real installed path, with the source line shown.
func TestCachedBytecodeRuntime(t *testing.T) {
	dir := t.TempDir()
	w := builtWheel(t, dir, "demo", fstest.MapFS{
		"pyproject.toml":       {Data: []byte("[project]\nname = \"demo\"\nversion = \"1.0\"\n")},
		"src/demo/__init__.py": {Data: []byte("")},
		"src/demo/boom.py":     {Data: []byte("def fail():\n    raise RuntimeError('boom here')\n")},
	})
	wh, lockPath := house(t, []corpus.Wheel{w})
	for _, py := range pythons.All(t) {
		t.Run(pythons.Label(py), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "pyc")
			pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "elsewhere"), "fill", cache)
			root := filepath.Join(t.TempDir(), "app")
			res, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
			if n := counts(t, res); n.Cached != 2 || n.Compiled != 0 {
				t.Fatalf("counts %+v, want both modules from the cache", n)
			}
			python := filepath.Join(root, "current", "bin", "python")
			script := "import demo.boom as m, sys\nprint(m.__file__)\nprint(m.fail.__code__.co_filename)\nm.fail()\n"
			cmd := exec.Command(python, "-X", "importtime", "-v", "-c", script)
			cmd.Env = target.CleanEnv(os.Environ())
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err == nil {
				t.Fatal("fail() did not raise")
			}
			real, err := filepath.EvalSymlinks(filepath.Join(root, "current"))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := target.Probe(context.Background(), py)
			if err != nil {
				t.Fatal(err)
			}
			sp := filepath.Join(root, "current", tr.Paths["purelib"])
			src := filepath.Join(sp, "demo", "boom.py")
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) != 2 || lines[0] != src || lines[1] != src {
				t.Errorf("__file__ and co_filename: %q, want %s (release %s)", lines, src, real)
			}
			errOut := stderr.String()
			pyc := filepath.Join(sp, "demo", "__pycache__", "boom."+tr.CacheTag+".pyc")
			for _, want := range []string{
				"code object from '" + pyc + "'",
				"File \"" + src + "\", line 2, in fail",
				"raise RuntimeError('boom here')",
				"RuntimeError: boom here",
				"| demo.boom",
			} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, lastLines(errOut, 30))
				}
			}
			if strings.Contains(errOut, "code object from '"+src+"'") {
				t.Errorf("compiled from the source:\n%s", lastLines(errOut, 30))
			}
		})
	}
}

// TestOnePinChanged: after the Flask set is baked, one distribution
// (Werkzeug) is replaced by another version: only its modules are
// compiled, every other one comes from the cache.
func TestOnePinChanged(t *testing.T) {
	py := corpustest.Python(t)
	ws := flaskClosure(t)
	cache := filepath.Join(t.TempDir(), "pyc")
	wh, lockPath := house(t, ws)
	first, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "a"), "r1", cache)
	total := counts(t, first).Compiled
	var changed []corpus.Wheel
	modules := 0
	for _, w := range ws {
		if strings.EqualFold(w.Name, "werkzeug") {
			w, modules = newVersion(t, w, w.Version+".post1", t.TempDir())
		}
		changed = append(changed, w)
	}
	if modules == 0 {
		t.Fatal("no Werkzeug in the Flask set")
	}
	wh2, lock2 := house(t, changed)
	res, log := pycInstall(t, py, wh2, lock2, filepath.Join(t.TempDir(), "b"), "r2", cache)
	got := counts(t, res)
	t.Logf("one pin changed: %d of %d modules compiled (Werkzeug has %d)", got.Compiled, got.Compiled+got.Cached, modules)
	if got.Compiled != modules || got.Cached != total-modules {
		t.Fatalf("counts %+v, want %d compiled (Werkzeug's modules) and %d cached\n%s", got, modules, total-modules, log)
	}
}

// newVersion repacks w as version v, each .py module changed (a comment
// added) as in a new release of the project; it returns the wheel and
// its number of modules.
func newVersion(t *testing.T, w corpus.Wheel, v, dir string) (corpus.Wheel, int) {
	t.Helper()
	zr, err := zip.OpenReader(w.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	oldInfo := ""
	for _, f := range zr.File {
		if d, ok := strings.CutSuffix(f.Name, ".dist-info/METADATA"); ok && !strings.Contains(d, "/") {
			oldInfo = d + ".dist-info"
		}
	}
	b, err := wheelpack.New(wheelpack.Meta{Name: w.Name, Version: v, RootIsPurelib: true})
	if err != nil {
		t.Fatal(err)
	}
	modules := 0
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		name := f.Name
		if rest, ok := strings.CutPrefix(name, oldInfo+"/"); ok {
			if rest == "RECORD" || rest == "WHEEL" {
				continue
			}
			if rest == "METADATA" {
				data = bytes.Replace(data, []byte("\nVersion: "+w.Version+"\n"), []byte("\nVersion: "+v+"\n"), 1)
			}
			name = b.DistInfo() + "/" + rest
		} else if strings.HasSuffix(name, ".py") {
			data = append(data, "\n# "+v+"\n"...)
			modules++
		}
		if err := b.Add(name, f.Mode(), data); err != nil {
			t.Fatal(err)
		}
	}
	res, err := b.WriteFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return corpus.Wheel{Name: w.Name, Version: v, File: res.File, Path: res.Path, SHA256: res.SHA256, Size: res.Size}, modules
}

// TestBytecodeCacheDamaged: entries with a flipped byte, cut short, or
// holding another module's entry are ignored and compiled again: the
// tree is the same as without a cache, and the cache is repaired.
func TestBytecodeCacheDamaged(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	py := corpustest.Python(t)
	click, _ := corpustest.Set(t).Get("click")
	wh, lockPath := house(t, []corpus.Wheel{click})
	cache := filepath.Join(t.TempDir(), "pyc")
	root := filepath.Join(t.TempDir(), "app")
	cold, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	want := fileTree(t, cold.Path)
	total := counts(t, cold).Compiled
	os.RemoveAll(root)
	dropWheelPacks(t, cache) // damaged loose entries here; wheel packs in TestBytecodeWheelPacks
	entries := cacheEntries(t, cache)
	if len(entries) < 4 {
		t.Fatalf("%d entries", len(entries))
	}
	damage := []func(p string){
		func(p string) { b, _ := os.ReadFile(p); b[len(b)-1] ^= 0x40; os.WriteFile(p, b, 0o644) },
		func(p string) { b, _ := os.ReadFile(p); os.WriteFile(p, b[:len(b)/2], 0o644) },
		func(p string) { os.WriteFile(p, nil, 0o644) },
		func(p string) { b, _ := os.ReadFile(entries[len(entries)-1]); os.WriteFile(p, b, 0o644) },
	}
	for i, f := range damage {
		f(entries[i])
	}
	warm, log := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	if n := counts(t, warm); n.Compiled != len(damage) || n.Cached != total-len(damage) {
		t.Fatalf("counts %+v, want %d compiled", n, len(damage))
	}
	if !strings.Contains(log, fmt.Sprintf("%d damaged entries ignored", len(damage))) {
		t.Errorf("the log does not report the damaged entries:\n%s", log)
	}
	sameFiles(t, "with damaged entries", want, fileTree(t, warm.Path))
	os.RemoveAll(root)
	again, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	if n := counts(t, again); n.Compiled != 0 {
		t.Fatalf("the cache was not repaired: %+v", n)
	}
}

// TestBytecodeCacheOtherPython: a cache filled by Python 3.12 gives a
// 3.11 install nothing (every module compiled by 3.11); and 3.12 .pyc
// bytes stored under 3.11's keys, with valid hashes, are refused by
// their magic number.
func TestBytecodeCacheOtherPython(t *testing.T) {
	py := corpustest.Python(t)
	py312 := corpustest.PyenvPython(t, "3.12")
	click, _ := corpustest.Set(t).Get("click")
	wh, lockPath := house(t, []corpus.Wheel{click})
	cache := filepath.Join(t.TempDir(), "pyc")
	other, _ := pycInstall(t, py312, wh, lockPath, filepath.Join(t.TempDir(), "py312"), "r1", cache)
	n312 := counts(t, other).Compiled
	clean, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "clean"), "r1", "")
	want := pycs(fileTree(t, clean.Path))
	res, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "a"), "r1", cache)
	if n := counts(t, res); n.Cached != 0 || n.Compiled != len(want) {
		t.Fatalf("counts %+v after a 3.12 cache, want %d compiled", n, len(want))
	}
	dropWheelPacks(t, cache) // forged loose entries here; wheel packs in TestBytecodeWheelPacks
	// Forge: every 3.11 entry now holds a 3.12 .pyc, with a correct hash.
	var pyc312 []byte
	filepath.WalkDir(other.Path, func(p string, d fs.DirEntry, err error) error {
		if pyc312 == nil && strings.HasSuffix(p, ".pyc") {
			pyc312, _ = os.ReadFile(p)
		}
		return nil
	})
	forged := 0
	for _, p := range cacheEntries(t, cache) {
		b, _ := os.ReadFile(p)
		if len(b) < 76 || bytes.Equal(b[72:76], pyc312[:4]) {
			continue
		}
		sum := sha256.Sum256(pyc312)
		nb := append(append(append([]byte(nil), b[:40]...), sum[:]...), pyc312...)
		if err := os.WriteFile(p, nb, 0o644); err != nil {
			t.Fatal(err)
		}
		forged++
	}
	if forged != len(want) || n312 != len(want) {
		t.Fatalf("forged %d entries, 3.12 compiled %d, want %d", forged, n312, len(want))
	}
	root := filepath.Join(t.TempDir(), "b")
	res, _ = pycInstall(t, py, wh, lockPath, root, "r1", cache)
	if n := counts(t, res); n.Cached != 0 {
		t.Fatalf("%d forged 3.12 entries installed", n.Cached)
	}
	sameFiles(t, "after forged entries", want, pycs(fileTree(t, res.Path)))
}

// TestBytecodeCacheFullDisk: with the cache on a full file system the
// install succeeds, compiling, says the cache took nothing more, and
// leaves no partial entry; a warm install from what the cache did take
// gives the same tree.
func TestBytecodeCacheFullDisk(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	py := corpustest.Python(t)
	click, _ := corpustest.Set(t).Get("click")
	wh, lockPath := house(t, []corpus.Wheel{click})
	cache := filepath.Join(mountTmpfs(t, "size=160k"), "pyc")
	root := filepath.Join(t.TempDir(), "app")
	res, log := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	want := fileTree(t, res.Path)
	if !strings.Contains(log, "not stored") || !strings.Contains(log, "no space left on device") {
		t.Errorf("the log does not say the cache is full:\n%s", log)
	}
	u, err := pyccache.Measure(cache)
	if err != nil {
		t.Fatal(err)
	}
	total := counts(t, res).Compiled
	if u.Entries == 0 || u.Entries >= total {
		t.Fatalf("the cache took %d of %d entries: not a full disk", u.Entries, total)
	}
	for _, p := range cacheFiles(t, cache) {
		if strings.HasPrefix(filepath.Base(p), ".tmp-") {
			t.Errorf("partial entry left: %s", p)
		}
	}
	os.RemoveAll(root)
	warm, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	if n := counts(t, warm); n.Cached != u.Entries || n.Compiled != total-u.Entries {
		t.Fatalf("counts %+v, the cache holds %d", n, u.Entries)
	}
	sameFiles(t, "from a partly filled cache", want, fileTree(t, warm.Path))
}

// TestBytecodeCacheParallel: installs running at once into different
// roots, sharing one empty cache, all succeed with the same .pyc bytes;
// the cache then holds each entry once, whole, and a later install takes
// every .pyc from it.
func TestBytecodeCacheParallel(t *testing.T) {
	py := corpustest.Python(t)
	wh, lockPath := house(t, flaskClosure(t))
	cache := filepath.Join(t.TempDir(), "pyc")
	const n = 3
	results := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Run(context.Background(), Set{Name: "app", Lock: lockPath, Python: py, Root: filepath.Join(t.TempDir(), fmt.Sprint(i)), Compile: true},
				Options{Release: fmt.Sprintf("p%d", i), Wheelhouse: wh, Version: "test", BytecodeCache: cache})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := pycs(fileTree(t, results[0].Path))
	for _, r := range results[1:] {
		sameFiles(t, "parallel installs", want, pycs(fileTree(t, r.Path)))
	}
	u, err := pyccache.Measure(cache)
	if err != nil || u.Entries != len(want) {
		t.Fatalf("cache %+v %v, want %d entries", u, err, len(want))
	}
	for _, p := range cacheFiles(t, cache) {
		if strings.HasPrefix(filepath.Base(p), ".tmp-") {
			t.Errorf("partial entry left: %s", p)
		}
	}
	res, _ := pycInstall(t, py, wh, lockPath, filepath.Join(t.TempDir(), "after"), "r1", cache)
	if c := counts(t, res); c.Compiled != 0 || c.Cached != len(want) {
		t.Fatalf("after: %+v", c)
	}
	sameFiles(t, "after parallel installs", want, pycs(fileTree(t, res.Path)))
}

// dropWheelPacks removes a cache's wheel packs, so the next install
// reads loose entries.
func dropWheelPacks(t *testing.T, cache string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(cache, "wheels")); err != nil {
		t.Fatal(err)
	}
}

// TestBytecodeWheelPacks: an install that read or compiled a wheel's
// modules leaves the wheel's pack, and the next install reads them all
// from it (shown with the loose entries gone); a wheel pack damaged in
// any way (a flipped byte, truncated, emptied, another wheel's) is
// ignored, said, and rewritten, and the tree is the same every time.
func TestBytecodeWheelPacks(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	py := corpustest.Python(t)
	click, _ := corpustest.Set(t).Get("click")
	wh, lockPath := house(t, []corpus.Wheel{click})
	cache := filepath.Join(t.TempDir(), "pyc")
	root := filepath.Join(t.TempDir(), "app")
	cold, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	want := fileTree(t, cold.Path)
	total := counts(t, cold).Compiled
	packs := func() []string {
		t.Helper()
		var out []string
		for _, p := range cacheFiles(t, filepath.Join(cache, "wheels")) {
			if strings.HasSuffix(p, ".pack") {
				out = append(out, p)
			}
		}
		return out
	}
	if p := packs(); len(p) != 1 {
		t.Fatalf("wheel packs after the cold install: %v, want one (click's)", p)
	}
	u, err := pyccache.Measure(cache)
	if err != nil || u.WheelPacks != 1 || u.Entries != total {
		t.Fatalf("usage %+v (%v)", u, err)
	}
	fromPackOnly := func(what string) {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(cache, "v1")); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(root)
		res, log := pycInstall(t, py, wh, lockPath, root, "r1", cache)
		if n := counts(t, res); n.Compiled != 0 || n.Cached != total {
			t.Fatalf("%s: counts %+v, want all %d from the wheel pack\n%s", what, n, total, log)
		}
		sameFiles(t, what, want, fileTree(t, res.Path))
	}
	fromPackOnly("from the wheel pack")

	other := filepath.Join(t.TempDir(), "other.pack")
	if err := os.WriteFile(other, []byte("not a pack at all, but long enough to look at its end"), 0o644); err != nil {
		t.Fatal(err)
	}
	otherBytes, _ := os.ReadFile(other)
	damage := map[string]func(b []byte) []byte{
		"flipped byte": func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-100] },
		"emptied":      func(b []byte) []byte { return nil },
		"another file": func(b []byte) []byte { return otherBytes },
	}
	for what, f := range damage {
		p := packs()[0]
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(root)
		res, log := pycInstall(t, py, wh, lockPath, root, "r1", cache)
		if n := counts(t, res); n.Compiled != total || n.Cached != 0 {
			t.Fatalf("%s: counts %+v, want all %d compiled again", what, n, total)
		}
		if !strings.Contains(log, "damaged entries ignored") {
			t.Errorf("%s: the log does not say the cache was damaged:\n%s", what, log)
		}
		sameFiles(t, what, want, fileTree(t, res.Path))
		fromPackOnly(what + ", then rewritten")
	}
}

// cacheFiles lists every file in a cache folder; cacheEntries the loose
// entries, sorted.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range cacheFiles(t, filepath.Join(dir, "v1")) {
		if !strings.HasPrefix(filepath.Base(p), ".") {
			out = append(out, p)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestBytecodeColdWarmReproducible: a cold install (empty bytecode cache,
// every module compiled) and a warm one (every .pyc copied from the
// cache) of the same lock, as the same release into two roots, give
// byte-identical receipts and identical trees: nothing written into a
// release depends on the cache's state. Both roots are installed at the
// same path (the cold one then moved aside): a release names its own
// path in its scripts, activate files and pyvenv.cfg. (It failed while
// the receipt counted the .pyc files compiled and cached.)
func TestBytecodeColdWarmReproducible(t *testing.T) {
	py := corpustest.Python(t)
	wh, lockPath := house(t, flaskClosure(t))
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	cache := filepath.Join(t.TempDir(), "pyc")
	root := filepath.Join(t.TempDir(), "srv", "app")
	first, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	coldRoot := root + "-cold"
	if err := os.Rename(root, coldRoot); err != nil {
		t.Fatal(err)
	}
	coldPath := filepath.Join(coldRoot, "releases", "r1")
	warm, _ := pycInstall(t, py, wh, lockPath, root, "r1", cache)
	if first.Path != warm.Path {
		t.Fatalf("installed into %s and %s", first.Path, warm.Path)
	}
	if c, w := counts(t, first), counts(t, warm); c.Compiled == 0 || c.Cached != 0 || w.Compiled != 0 || w.Cached != c.Compiled {
		t.Fatalf("counts: cold %+v, warm %+v: not a cold and a warm install", c, w)
	}
	rc1, err := os.ReadFile(filepath.Join(coldPath, receipt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	rc2, err := os.ReadFile(filepath.Join(warm.Path, receipt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rc1, rc2) {
		t.Errorf("the cold and the warm install's receipts differ:\n%s", changedLines(string(rc1), string(rc2)))
	}
	sameFiles(t, "cold and warm installs into two roots", fileTree(t, coldPath), fileTree(t, warm.Path))
}

// changedLines lists the lines of a and b that differ, position by position.
func changedLines(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d: %q vs %q", i+1, x, y))
		}
	}
	return strings.Join(out[:min(len(out), 20)], "\n")
}
