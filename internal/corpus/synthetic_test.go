package corpus_test

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// fakeVenv is a virtual environment (made by the real interpreter) whose
// site-packages holds hand-made installed distributions.
type fakeVenv struct {
	root, python, site, tag string
}

func newFakeVenv(t *testing.T) *fakeVenv {
	t.Helper()
	base := corpustest.Python(t)
	root := filepath.Join(t.TempDir(), "venv")
	corpustest.Run(t, base, nil, "-m", "venv", "--without-pip", root)
	python := filepath.Join(root, "bin", "python3")
	in, err := corpus.Inspect(context.Background(), python)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeVenv{root: root, python: python, site: in.Purelib, tag: in.Tag()}
}

// install writes files (paths relative to site-packages, may start with
// "../../../") and a RECORD listing them plus recordExtra rows. The RECORD
// hashes are deliberately stale: repacking must hash what is on disk.
func (v *fakeVenv) install(t *testing.T, distInfo string, files map[string]string, modes map[string]os.FileMode, recordExtra ...string) {
	t.Helper()
	var rows []string
	for rel, body := range files {
		p := filepath.Join(v.site, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := modes[rel]
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%s,sha256=c3RhbGU,%d", rel, len(body)+1))
	}
	rows = append(rows, recordExtra...)
	rows = append(rows, distInfo+"/RECORD,,")
	sort.Strings(rows)
	if err := os.WriteFile(filepath.Join(v.site, distInfo, "RECORD"), []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func zipContents(t *testing.T, path string) map[string]*zip.File {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	m := map[string]*zip.File{}
	for _, f := range zr.File {
		m[f.Name] = f
	}
	return m
}

func readZip(t *testing.T, f *zip.File) string {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRepackPlacesFiles(t *testing.T) {
	v := newFakeVenv(t)
	pyver := strings.TrimPrefix(v.tag, "cp")
	pyver = pyver[:1] + "." + pyver[1:]
	ext := ".cpython-" + strings.TrimPrefix(v.tag, "cp") + "-x86_64-linux-gnu.so"
	v.install(t, "Demo.Tool-2.0.dist-info", map[string]string{
		"Demo.Tool-2.0.dist-info/METADATA":                           "Metadata-Version: 2.1\nName: Demo.Tool\nVersion: 2.0\n\nbody\n",
		"Demo.Tool-2.0.dist-info/entry_points.txt":                   "[console_scripts]\ndemo-tool = demo_tool:main\n",
		"Demo.Tool-2.0.dist-info/INSTALLER":                          "pip\n",
		"Demo.Tool-2.0.dist-info/REQUESTED":                          "",
		"Demo.Tool-2.0.dist-info/direct_url.json":                    "{}",
		"Demo.Tool-2.0.dist-info/licenses/LICENSE":                   "MIT\n",
		"demo_tool/__init__.py":                                      "def main():\n    print('demo main')\n",
		"demo_tool/__pycache__/__init__.cpython-311.pyc":             "bytecode",
		"demo_tool/_speed" + ext:                                     "\x7fELF not really",
		"../../../bin/demo-tool":                                     "#!" + v.python + "\nwrapper\n",
		"../../../bin/demo-helper":                                   "#!" + v.python + " -u\nimport demo_tool\ndemo_tool.main()\n",
		"../../../bin/__pycache__/demo-helper.cpython.pyc":           "bytecode",
		"../../../share/demo/data.txt":                               "data\n",
		"../../../include/site/python" + pyver + "/Demo.Tool/demo.h": "#define DEMO 1\n",
	}, map[string]os.FileMode{"../../../bin/demo-tool": 0o755, "../../../bin/demo-helper": 0o755, "demo_tool/_speed" + ext: 0o755},
		"demo_tool/__pycache__/gone.cpython-311.pyc,,")
	v.install(t, "purepkg-0.1.dist-info", map[string]string{
		"purepkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: purepkg\nVersion: 0.1\n",
		"purepkg-0.1.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: someone (1.0)\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n",
		"purepkg.py":                     "X = 1\n",
	}, nil)
	v.install(t, "broken-1.0.dist-info", map[string]string{
		"broken-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n",
	}, nil, "broken/missing.py,sha256=c3RhbGU,3")

	cache := filepath.Join(t.TempDir(), "cache")
	set, err := corpus.Repack(context.Background(), corpus.Options{Python: v.python, Dir: cache, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Wheels) != 2 {
		t.Fatalf("wheels = %+v, want demo.tool and purepkg", set.Wheels)
	}
	if len(set.Skipped) != 1 || !strings.Contains(set.Skipped[0], `"broken 1.0"`) || !strings.Contains(set.Skipped[0], "broken/missing.py") {
		t.Errorf("skipped = %q, want broken 1.0 naming its missing file", set.Skipped)
	}

	demo, ok := set.Get("demo-tool")
	if !ok {
		t.Fatal("Get(demo-tool) found nothing")
	}
	if want := "demo_tool-2.0-" + v.tag + "-" + v.tag + "-linux_x86_64.whl"; demo.File != want || demo.Name != "Demo.Tool" {
		t.Errorf("demo wheel %s (%s), want %s", demo.File, demo.Name, want)
	}
	if err := wheelpack.Verify(demo.Path); err != nil {
		t.Error(err)
	}
	files := zipContents(t, demo.Path)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{
		"demo_tool-2.0.data/data/share/demo/data.txt",
		"demo_tool-2.0.data/headers/demo.h",
		"demo_tool-2.0.data/scripts/demo-helper",
		"demo_tool-2.0.dist-info/METADATA",
		"demo_tool-2.0.dist-info/RECORD",
		"demo_tool-2.0.dist-info/WHEEL",
		"demo_tool-2.0.dist-info/entry_points.txt",
		"demo_tool-2.0.dist-info/licenses/LICENSE",
		"demo_tool/__init__.py",
		"demo_tool/_speed" + ext,
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("demo wheel holds:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if f := files["demo_tool-2.0.data/scripts/demo-helper"]; f != nil {
		if got := readZip(t, f); got != "#!python -u\nimport demo_tool\ndemo_tool.main()\n" {
			t.Errorf("demo-helper = %q", got)
		}
		if f.Mode().Perm() != 0o755 {
			t.Errorf("demo-helper mode %v", f.Mode())
		}
	}
	if f := files["demo_tool-2.0.dist-info/WHEEL"]; f != nil {
		wi, err := wheelpack.ParseWHEEL([]byte(readZip(t, f)))
		if err != nil || wi.RootIsPurelib || len(wi.Tags) != 1 || wi.Tags[0] != v.tag+"-"+v.tag+"-linux_x86_64" {
			t.Errorf("synthesized WHEEL = %+v, %v", wi, err)
		}
	}

	pure, _ := set.Get("purepkg")
	if pure.File != "purepkg-0.1-py2.py3-none-any.whl" {
		t.Errorf("purepkg file = %s", pure.File)
	}
	if got := readZip(t, zipContents(t, pure.Path)["purepkg-0.1.dist-info/WHEEL"]); !strings.Contains(got, "Generator: someone (1.0)") {
		t.Errorf("original WHEEL not kept: %q", got)
	}

	// The real pip installs the repacked wheel: the script gets a real
	// shebang, the console script is regenerated from entry_points.txt and
	// data files land under the prefix.
	target := t.TempDir()
	corpustest.PipInstall(t, corpustest.Python(t), target, demo.Path)
	helper, err := os.ReadFile(filepath.Join(target, "bin", "demo-helper"))
	if err != nil || !strings.HasPrefix(string(helper), "#!/") || !strings.Contains(strings.SplitN(string(helper), "\n", 2)[0], "python") {
		t.Errorf("installed demo-helper = %q, %v", helper, err)
	}
	if _, err := os.Stat(filepath.Join(target, "bin", "demo-tool")); err != nil {
		t.Errorf("pip did not generate the demo-tool console script: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "share", "demo", "data.txt")); err != nil || string(b) != "data\n" {
		t.Errorf("data file: %q, %v", b, err)
	}

	// Reuse, then rebuild when a file changes behind RECORD's back, then
	// when RECORD changes.
	before, _ := os.Stat(demo.Path)
	again, err := corpus.Repack(context.Background(), corpus.Options{Python: v.python, Dir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(demo.Path); !os.SameFile(before, after) {
		t.Error("unchanged distribution was rebuilt")
	}
	if w, _ := again.Get("demo-tool"); w.SHA256 != demo.SHA256 {
		t.Errorf("reused wheel digest %s, first %s", w.SHA256, demo.SHA256)
	}
	os.WriteFile(filepath.Join(v.site, "demo_tool", "__init__.py"), []byte("def main():\n    print('changed')\n"), 0o644)
	changed, err := corpus.Repack(context.Background(), corpus.Options{Python: v.python, Dir: cache})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := changed.Get("demo-tool")
	if w.SHA256 == demo.SHA256 || !strings.Contains(readZip(t, zipContents(t, w.Path)["demo_tool/__init__.py"]), "changed") {
		t.Error("changed file did not rebuild the wheel")
	}
	if p, _ := changed.Get("purepkg"); p.SHA256 != pure.SHA256 {
		t.Error("purepkg changed although its files did not")
	}
	os.Remove(filepath.Join(v.site, "broken-1.0.dist-info", "RECORD"))
	os.WriteFile(filepath.Join(v.site, "broken-1.0.dist-info", "RECORD"), []byte("broken-1.0.dist-info/METADATA,,\nbroken-1.0.dist-info/RECORD,,\n"), 0o644)
	fixed, err := corpus.Repack(context.Background(), corpus.Options{Python: v.python, Dir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fixed.Get("broken"); !ok || len(fixed.Skipped) != 0 {
		t.Errorf("after fixing RECORD: skipped %q", fixed.Skipped)
	}
}
