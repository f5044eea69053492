package install

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelbuild"
)

// house links wheels into a fresh wheelhouse and writes their lock.
func house(t *testing.T, wheels []corpus.Wheel) (dir, lockPath string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "wheels")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range wheels {
		if err := os.Symlink(w.Path, filepath.Join(dir, w.File)); err != nil {
			t.Fatal(err)
		}
	}
	lockPath = filepath.Join(filepath.Dir(dir), "requirements.txt")
	if err := corpus.WriteRequirements(lockPath, wheels); err != nil {
		t.Fatal(err)
	}
	return dir, lockPath
}

// houseInOrder is house with the lock listing wheels in the order given
// (house sorts them by name).
func houseInOrder(t *testing.T, wheels []corpus.Wheel) (dir, lockPath string) {
	t.Helper()
	dir, lockPath = house(t, wheels)
	var lines string
	for _, w := range wheels {
		lines += lockLine(w, w.SHA256)
	}
	if err := os.WriteFile(lockPath, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, lockPath
}

// builtWheel builds the project in fsys (wheelbuild) into dir: a wheel of
// version 1.0 of name.
func builtWheel(t *testing.T, dir, name string, fsys fstest.MapFS) corpus.Wheel {
	t.Helper()
	res, err := wheelbuild.Build(fsys, dir, wheelbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return corpus.Wheel{Name: name, Version: "1.0", File: res.File, Path: res.Path, SHA256: res.SHA256, Size: res.Size}
}

func flaskClosure(t *testing.T) []corpus.Wheel {
	t.Helper()
	set := corpustest.Set(t)
	ws, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// run runs a program in a clean environment and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = target.CleanEnv(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func currentOf(t *testing.T, root string) string {
	t.Helper()
	r, err := release.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.Current()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// entries lists the names in a root's releases folder.
func entries(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}
