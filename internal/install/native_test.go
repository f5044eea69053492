package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// demoProject is a one-module project for wheelbuild; pyproject adds to
// its [project] table.
func demoProject(pyproject string) fstest.MapFS {
	return fstest.MapFS{
		"pyproject.toml":       {Data: []byte("[project]\nname = \"demo\"\nversion = \"1.0\"\n" + pyproject)},
		"src/demo/__init__.py": {Data: []byte("")},
		"src/demo/cli.py":      {Data: []byte("def main():\n    print('demo')\n")},
	}
}

// noRelease fails the test if root holds a release (or anything in its
// releases folder): the install was to be refused before writing.
func noRelease(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "releases"))
	if err == nil && len(ents) > 0 {
		t.Errorf("refused, but %s/releases holds %d entries", root, len(ents))
	}
	if _, err := os.Lstat(filepath.Join(root, "current")); err == nil {
		t.Errorf("refused, but %s/current exists", root)
	}
}

// TestRequiresPythonRefused (issue 12.1): a wheel whose METADATA
// Requires-Python excludes the interpreter is refused by both installers
// before anything is written, naming the package, its Requires-Python and
// the interpreter's version.
func TestRequiresPythonRefused(t *testing.T) {
	py := corpustest.Python(t)
	tg, err := target.Probe(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := builtWheel(t, dir, "demo", demoProject("requires-python = \">=3.99\"\n"))
	wh, lockPath := house(t, []corpus.Wheel{w})
	want := fmt.Sprintf("demo 1.0 requires Python >=3.99 (METADATA Requires-Python), but the interpreter is Python %d.%d.%d (interpreter %s)",
		tg.Version[0], tg.Version[1], tg.Version[2], tg.Executable)
	for _, inst := range []string{Native, Pip} {
		root := filepath.Join(t.TempDir(), "app")
		_, err := Run(context.Background(), Set{Lock: lockPath, Python: py, Root: root, Installer: inst}, Options{Wheelhouse: wh})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), w.File) {
			t.Fatalf("%s: got %v, want an error naming %s with %q", inst, err, w.File, want)
		}
		noRelease(t, root)
	}
}

// TestLockRequiresPythonRefused: a pylock.toml's requires-python, of the
// lock or of a package, that excludes the interpreter is refused before
// anything is written, naming the line, the specifier and the version.
func TestLockRequiresPythonRefused(t *testing.T) {
	py := corpustest.Python(t)
	tg, err := target.Probe(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := builtWheel(t, dir, "demo", demoProject(""))
	wh, _ := house(t, []corpus.Wheel{w})
	pkg := fmt.Sprintf("[[packages]]\nname = \"demo\"\nversion = \"1.0\"\n%%s[[packages.wheels]]\nname = %q\npath = %q\nhashes = {sha256 = %q}\n", w.File, w.File, w.SHA256)
	for name, c := range map[string]struct{ lock, want string }{
		"lock":    {"lock-version = \"1.0\"\ncreated-by = \"test\"\nrequires-python = \">=3.99\"\n\n" + fmt.Sprintf(pkg, ""), `pylock.toml:3: the lock's requires-python is not met: requires-python ">=3.99" excludes Python ` + tg.VersionFull},
		"package": {"lock-version = \"1.0\"\ncreated-by = \"test\"\n\n" + fmt.Sprintf(pkg, "requires-python = \"<3.0\"\n"), `pylock.toml:4: package "demo": requires-python "<3.0" excludes Python ` + tg.VersionFull},
	} {
		lockPath := filepath.Join(t.TempDir(), "pylock.toml")
		if err := os.WriteFile(lockPath, []byte(c.lock), 0o644); err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(t.TempDir(), "app")
		_, err := Run(context.Background(), Set{Lock: lockPath, Python: py, Root: root}, Options{Wheelhouse: wh})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
		noRelease(t, root)
	}
}

// TestEntryPointCannotReplaceVenv (issue 11.8): a console script named
// python (or python3.X, activate, pip) is refused by both installers,
// pip's included, which would let it overwrite bin/python; nothing is
// left behind.
func TestEntryPointCannotReplaceVenv(t *testing.T) {
	py := corpustest.Python(t)
	for _, script := range []string{"python", "python3", "activate", "pip"} {
		dir := t.TempDir()
		w := builtWheel(t, dir, "demo", demoProject("\n[project.scripts]\n"+script+" = \"demo.cli:main\"\n"))
		wh, lockPath := house(t, []corpus.Wheel{w})
		for _, inst := range []string{Native, Pip} {
			root := filepath.Join(t.TempDir(), "app")
			_, err := Run(context.Background(), Set{Lock: lockPath, Python: py, Root: root, Installer: inst}, Options{Wheelhouse: wh})
			want := fmt.Sprintf("entry point %q would replace", script)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), w.File) {
				t.Errorf("%s, script %s: got %v, want %q", inst, script, err, want)
			}
			noRelease(t, root)
		}
	}
}
