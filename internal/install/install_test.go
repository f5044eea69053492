package install

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestInstallFlask installs Flask and its dependencies from real wheels,
// runs its console script from current, and checks receipt, SBOM and verify.
func TestInstallFlask(t *testing.T) {
	py := corpustest.Python(t)
	wheels := flaskClosure(t)
	wh, lockPath := house(t, wheels)
	root := filepath.Join(t.TempDir(), "srv", "api")
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	res, err := Run(context.Background(), Set{Name: "api", Lock: lockPath, Python: py, Root: root, Compile: true}, Options{Release: "r1", Wheelhouse: wh, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release != "r1" || currentOf(t, root) != "r1" {
		t.Fatalf("current = %q", currentOf(t, root))
	}
	out := run(t, filepath.Join(root, "current", "bin", "flask"), "--version")
	if !strings.Contains(out, "Flask 3.1.3") {
		t.Fatalf("flask --version: %s", out)
	}
	rc, err := receipt.Read(filepath.Join(root, "current"))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Set != "api" || rc.Release != "r1" || len(rc.Distributions) != len(wheels) || rc.Created.Unix() != 1764133200 || !rc.Compiled {
		t.Errorf("receipt: %+v", rc)
	}
	if rc.Interpreter.Tags.Interpreter != "cp311" || rc.Files < 100 {
		t.Errorf("receipt interpreter/files: %+v %d", rc.Interpreter, rc.Files)
	}
	// bytecode was written and recorded
	pyc, _ := filepath.Glob(filepath.Join(root, "current/lib/python3.11/site-packages/flask/__pycache__/*.cpython-311.pyc"))
	if len(pyc) < 5 {
		t.Errorf("expected compiled flask modules, found %v", pyc)
	}
	var sbom map[string]any
	data, _ := os.ReadFile(filepath.Join(root, "current", receipt.SBOMName))
	if err := json.Unmarshal(data, &sbom); err != nil || sbom["specVersion"] != "1.5" || len(sbom["components"].([]any)) != len(wheels) {
		t.Errorf("SBOM: %v %v", err, sbom["specVersion"])
	}
	rep, err := receipt.Verify(filepath.Join(root, "current"), receipt.Options{})
	if err != nil || !rep.Clean() {
		t.Fatalf("verify: %v %s", err, describe(rep.Problems))
	}

	// drift is reported by path: modified, missing and unexpected files
	cur := filepath.Join(root, "releases", "r1")
	sp := filepath.Join(cur, "lib/python3.11/site-packages")
	if err := os.WriteFile(filepath.Join(sp, "flask/app.py"), []byte("# tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(sp, "werkzeug/serving.py")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sp, "evil.pth"), []byte("import os\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pycs, _ := filepath.Glob(filepath.Join(sp, "jinja2/__pycache__/*.pyc"))
	if err := os.WriteFile(pycs[0], []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = receipt.Verify(cur, receipt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range rep.Problems {
		got[p.Path] = p.Kind
	}
	rel := func(p string) string { r, _ := filepath.Rel(cur, p); return r }
	for path, kind := range map[string]string{
		"lib/python3.11/site-packages/flask/app.py":        receipt.Modified,
		"lib/python3.11/site-packages/werkzeug/serving.py": receipt.Missing,
		"lib/python3.11/site-packages/evil.pth":            receipt.Unexpected,
		rel(pycs[0]):                                       receipt.Modified,
	} {
		if got[path] != kind {
			t.Errorf("verify: %s: got %q, want %q (%s)", path, got[path], kind, describe(rep.Problems))
		}
	}
	if len(rep.Problems) != 4 {
		t.Errorf("want exactly 4 problems, got %d: %s", len(rep.Problems), describe(rep.Problems))
	}
}

// TestSecondReleaseAndRepeat installs two releases, keeps both, and checks a
// repeated install of the current release is a verified no-op.
func TestSecondReleaseAndRepeat(t *testing.T) {
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	six, _ := set.Get("six")
	wh, lockPath := house(t, []corpus.Wheel{six})
	root := filepath.Join(t.TempDir(), "root")
	s := Set{Name: "six", Lock: lockPath, Python: py, Root: root, Compile: false}
	if _, err := Run(context.Background(), s, Options{Release: "1", Wheelhouse: wh}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), s, Options{Release: "2", Wheelhouse: wh}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries(t, root), " "); got != "1 2" {
		t.Errorf("releases = %s", got)
	}
	res, err := Run(context.Background(), s, Options{Release: "2", Wheelhouse: wh})
	if err != nil || !res.Skipped {
		t.Fatalf("repeat of the current release: %v %+v", err, res)
	}
	// keep=1 prunes the old one on the next install, never current
	s.Keep = 1
	res, err = Run(context.Background(), s, Options{Release: "3", Wheelhouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries(t, root), " "); got != "3" || strings.Join(res.Pruned, " ") != "1 2" {
		t.Errorf("after keep=1: releases %s, pruned %v", got, res.Pruned)
	}
}

// TestSameScriptLaterWins: when two distributions generate the same
// script, the one later in the lock's order (not the name's) is what bin/
// holds (as with pip).
func TestSameScriptLaterWins(t *testing.T) {
	py := corpustest.Python(t)
	for _, order := range [][2]string{{"alpha", "beta"}, {"zulu", "alpha"}} {
		dir := t.TempDir()
		var wheels []corpus.Wheel
		for k, name := range order {
			scripts := "tool = \"" + name + ".cli:main\"\nonly-" + name + " = \"" + name + ".cli:main\"\n"
			if k == 0 { // slow to finish: were both finished at once, its tool would land last
				for i := 0; i < 400; i++ {
					scripts += fmt.Sprintf("a%03d = \"%s.cli:main\"\n", i, name)
				}
			}
			fsys := fstest.MapFS{
				"pyproject.toml":               {Data: []byte("[project]\nname = \"" + name + "\"\nversion = \"1.0\"\n\n[project.scripts]\n" + scripts)},
				"src/" + name + "/__init__.py": {Data: []byte("")},
				"src/" + name + "/cli.py":      {Data: []byte("def main():\n    print('" + name + "')\n")},
			}
			wheels = append(wheels, builtWheel(t, dir, name, fsys))
		}
		wh, lockPath := houseInOrder(t, wheels)
		root := filepath.Join(t.TempDir(), "app")
		if _, err := Run(context.Background(), Set{Lock: lockPath, Python: py, Root: root}, Options{Wheelhouse: wh}); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(root, "current", "bin")
		if out := run(t, filepath.Join(bin, "tool")); strings.TrimSpace(out) != order[1] {
			t.Errorf("lock order %v: bin/tool runs %q, want the later distribution's (%s)", order, out, order[1])
		}
		for _, name := range order {
			if _, err := os.Stat(filepath.Join(bin, "only-"+name)); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestSharedFileLaterWins: two distributions that ship the same file (old
// style namespace packages: backports/__init__.py) install, the content of
// the one later in the lock's order (not the name's) is what the release
// holds, and the release verifies, each RECORD keeping its own row.
func TestSharedFileLaterWins(t *testing.T) {
	py := corpustest.Python(t)
	for _, order := range [][2]string{{"alpha", "beta"}, {"zulu", "alpha"}} {
		dir := t.TempDir()
		var wheels []corpus.Wheel
		for _, mod := range order {
			name := "backports." + mod
			fsys := fstest.MapFS{
				"pyproject.toml":                        {Data: []byte("[project]\nname = \"" + name + "\"\nversion = \"1.0\"\n")},
				"src/backports/__init__.py":             {Data: []byte("WHO = '" + mod + "'\n")},
				"src/backports/" + mod + "/__init__.py": {Data: []byte("")},
			}
			wheels = append(wheels, builtWheel(t, dir, name, fsys))
		}
		wh, lockPath := houseInOrder(t, wheels)
		root := filepath.Join(t.TempDir(), "app")
		if _, err := Run(context.Background(), Set{Lock: lockPath, Python: py, Root: root, Compile: true}, Options{Wheelhouse: wh}); err != nil {
			t.Fatal(err)
		}
		out := run(t, filepath.Join(root, "current", "bin", "python"), "-c", "import backports, backports."+order[0]+", backports."+order[1]+"; print(backports.WHO)")
		if strings.TrimSpace(out) != order[1] {
			t.Errorf("lock order %v: backports/__init__.py is %q's, want the later distribution's (%s)", order, out, order[1])
		}
		rep, err := receipt.Verify(filepath.Join(root, "current"), receipt.Options{})
		if err != nil || !rep.Clean() {
			t.Fatalf("verify: %v %s", err, describe(rep.Problems))
		}
	}
}
