package wheelbuild

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

const demoPyproject = `
[build-system]
requires = ["whatever"]

[project]
name = "Demo_App"
version = "1.2.0"
description = "A demo"
requires-python = ">=3.8"
readme = "README.md"
dependencies = ["requests>=2", "tomli; python_version < '3.11'"]

[project.optional-dependencies]
Fast = ["orjson"]
typed = ["types-requests; python_version >= '3.8'"]

[project.scripts]
demo = "demo_app.cli:main"
demo-admin = "demo_app.cli:admin"

[project.gui-scripts]
demo-gui = "demo_app.gui:run"

[project.entry-points."demo.plugins"]
basic = "demo_app.plugins:Basic"

[tool.other]
anything = 1
`

func sourceTree() fstest.MapFS {
	return fstest.MapFS{
		"pyproject.toml":                               {Data: []byte(demoPyproject)},
		"README.md":                                    {Data: []byte("# Demo\n\nLong text.\n")},
		"src/demo_app/__init__.py":                     {Data: []byte("__version__ = '1.2.0'\n"), Mode: 0o600},
		"src/demo_app/__main__.py":                     {Data: []byte("from demo_app.cli import main\nraise SystemExit(main())\n")},
		"src/demo_app/cli.py":                          {Data: []byte("def main():\n    print('demo says hi')\n    return 0\n\ndef admin():\n    return 0\n"), Mode: 0o755},
		"src/demo_app/data/table.json":                 {Data: []byte("{}\n")},
		"src/demo_app/__pycache__/cli.cpython-311.pyc": {Data: []byte("bytecode")},
		"src/demo_app/.DS_Store":                       {Data: []byte("junk")},
		"src/demo_app.egg-info/PKG-INFO":               {Data: []byte("old")},
		"src/helper.py":                                {Data: []byte("X = 1\n")},
		"src/notes.txt":                                {Data: []byte("not a module")},
		"tests/test_demo.py":                           {Data: []byte("assert True\n")},
	}
}

func entries(t *testing.T, raw []byte) (names []string, body map[string]string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body = map[string]string{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		body[f.Name] = string(b)
		if f.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644 whatever the tree says", f.Name, f.Mode())
		}
	}
	return names, body
}

func TestBuild(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := t.TempDir()
	res, err := Build(sourceTree(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.File != "demo_app-1.2.0-py3-none-any.whl" {
		t.Errorf("file = %s", res.File)
	}
	if err := wheelpack.Verify(res.Path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(res.Path)
	names, body := entries(t, raw)
	want := []string{
		"demo_app/__init__.py",
		"demo_app/__main__.py",
		"demo_app/cli.py",
		"demo_app/data/table.json",
		"helper.py",
		"demo_app-1.2.0.dist-info/METADATA",
		"demo_app-1.2.0.dist-info/WHEEL",
		"demo_app-1.2.0.dist-info/entry_points.txt",
		"demo_app-1.2.0.dist-info/RECORD",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	wantMeta := `Metadata-Version: 2.1
Name: Demo_App
Version: 1.2.0
Summary: A demo
Requires-Python: >=3.8
Requires-Dist: requests>=2
Requires-Dist: tomli; python_version < '3.11'
Provides-Extra: fast
Requires-Dist: orjson; extra == "fast"
Provides-Extra: typed
Requires-Dist: types-requests; (python_version >= '3.8') and extra == "typed"
Description-Content-Type: text/markdown

# Demo

Long text.
`
	if got := body["demo_app-1.2.0.dist-info/METADATA"]; got != wantMeta {
		t.Errorf("METADATA:\n%s\nwant:\n%s", got, wantMeta)
	}
	wantEP := "[console_scripts]\ndemo = demo_app.cli:main\ndemo-admin = demo_app.cli:admin\n\n[gui_scripts]\ndemo-gui = demo_app.gui:run\n\n[demo.plugins]\nbasic = demo_app.plugins:Basic\n"
	if got := body["demo_app-1.2.0.dist-info/entry_points.txt"]; got != wantEP {
		t.Errorf("entry_points.txt:\n%s\nwant:\n%s", got, wantEP)
	}
	if got := body["demo_app-1.2.0.dist-info/WHEEL"]; got != "Wheel-Version: 1.0\nGenerator: pipbake-wheelbuild\nRoot-Is-Purelib: true\nTag: py3-none-any\n" {
		t.Errorf("WHEEL:\n%s", got)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	build := func(fsys fs.FS, opts Options) []byte {
		var buf bytes.Buffer
		if _, err := Write(fsys, &buf, opts); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a := build(sourceTree(), Options{})
	// Same content with other modes and times, and in another order of
	// creation: same bytes.
	other := sourceTree()
	for name, f := range other {
		f.Mode = 0o777
		f.ModTime = time.Now()
		other[name] = f
	}
	if b := build(other, Options{}); !bytes.Equal(a, b) {
		t.Error("modes or times of the tree changed the wheel")
	}
	if b := build(sourceTree(), Options{ModTime: wheelpack.DefaultTime}); !bytes.Equal(a, b) {
		t.Error("unset SOURCE_DATE_EPOCH is not the fixed 1980 time")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if b := build(sourceTree(), Options{}); bytes.Equal(a, b) {
		t.Error("SOURCE_DATE_EPOCH was ignored")
	}
	if b := build(sourceTree(), Options{ModTime: wheelpack.DefaultTime}); !bytes.Equal(a, b) {
		t.Error("Options.ModTime does not override SOURCE_DATE_EPOCH")
	}
	changed := sourceTree()
	changed["src/helper.py"] = &fstest.MapFile{Data: []byte("X = 2\n")}
	if b := build(changed, Options{ModTime: wheelpack.DefaultTime}); bytes.Equal(a, b) {
		t.Error("a source change did not change the wheel")
	}
}

func TestLoadErrors(t *testing.T) {
	base := "[project]\nname = \"ok\"\nversion = \"1.0\"\n"
	for _, tc := range []struct{ toml, want string }{
		{"", "no [project] table"},
		{"[project\n", "parse pyproject.toml"},
		{"[project]\nversion = \"1.0\"\n", "[project] name: missing"},
		{"[project]\nname = \"bad name\"\nversion = \"1.0\"\n", "[project] name: \"bad name\" is not a valid project name"},
		{"[project]\nname = \"ok\"\n", "[project] version: missing"},
		{"[project]\nname = \"ok\"\nversion = \"1.0-beta\"\n", "[project] version: \"1.0-beta\" is not a normalized PEP 440 version"},
		{"[project]\nname = \"ok\"\ndynamic = [\"version\"]\n", "[project] dynamic: dynamic fields (version)"},
		{base + "dependencies = [\"\"]\n", "[project] dependencies: \"\" is not a requirement"},
		{base + "license = \"MIT\"\n", "[project] field \"license\" is not supported"},
		{base + "[project.urls]\nHome = \"https://example.org\"\n", "[project] field \"urls\" is not supported"},
		{base + "readme = {file = \"R.md\", content-type = \"text/markdown\", charset = \"x\"}\n", "readme: field \"charset\" is not supported"},
		{base + "[project.scripts]\nhello = \"not a ref\"\n", "[project] scripts: hello = \"not a ref\" is not \"module:function\""},
		{base + "[project.gui-scripts]\n\"bad name\" = \"a:b\"\n", "[project] gui-scripts: \"bad name\" is not a valid entry point name"},
		{base + "[project.entry-points.console_scripts]\nx = \"a:b\"\n", "use [project.scripts]"},
		{base + "readme = \"MISSING.md\"\n", "[project] readme"},
		{base + "readme = {text = \"hi\"}\n", "content-type is required"},
		{base + "[project.optional-dependencies]\n\"-bad-\" = []\n", "optional-dependencies: \"-bad-\" is not a valid extra name"},
	} {
		_, err := Load(fstest.MapFS{"pyproject.toml": {Data: []byte(tc.toml)}})
		if err == nil || !strings.Contains(err.Error(), "pyproject.toml") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) error = %v, want it to name pyproject.toml and %q", tc.toml, err, tc.want)
		}
	}
	if _, err := Load(fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "pyproject.toml") {
		t.Errorf("missing pyproject.toml: %v", err)
	}
	noSrc := fstest.MapFS{"pyproject.toml": {Data: []byte(base)}}
	if _, err := Write(noSrc, io.Discard, Options{}); err == nil || !strings.Contains(err.Error(), "src/") {
		t.Errorf("no src/: %v", err)
	}
	noSrc["src/README"] = &fstest.MapFile{Data: []byte("x")}
	if _, err := Write(noSrc, io.Discard, Options{}); err == nil || !strings.Contains(err.Error(), "no packages or modules") {
		t.Errorf("empty src/: %v", err)
	}
}

// TestPipInstallsBuiltWheel checks the wheel with the real pip: it
// installs, its console script runs, and importlib.metadata reads its
// metadata.
func TestPipInstallsBuiltWheel(t *testing.T) {
	python := corpustest.Python(t)
	res, err := Build(sourceTree(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	corpustest.PipInstall(t, python, target, res.Path)
	env := []string{"PYTHONPATH=" + target}
	if out := corpustest.Run(t, python, env, filepath.Join(target, "bin", "demo")); out != "demo says hi\n" {
		t.Errorf("demo script printed %q", out)
	}
	out := corpustest.Run(t, python, env, "-c", `import importlib.metadata as m
d = m.distribution("demo-app")
print(d.version, d.metadata["Requires-Python"], sorted(d.metadata.get_all("Provides-Extra")))
print(sorted(ep.name for ep in d.entry_points))`)
	if want := "1.2.0 >=3.8 ['fast', 'typed']\n['basic', 'demo', 'demo-admin', 'demo-gui']\n"; out != want {
		t.Errorf("metadata seen by Python:\n%s\nwant:\n%s", out, want)
	}
}
