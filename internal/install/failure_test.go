package install

import (
	"archive/zip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// fixture is a root with a good release r1 of six installed.
type fixture struct {
	py, root, wh string
	six          corpus.Wheel
}

func newFixture(t *testing.T, root string) *fixture {
	t.Helper()
	py := corpustest.Python(t)
	six, ok := corpustest.Set(t).Get("six")
	if !ok {
		t.Fatal("six is not in the corpus")
	}
	wh, lockPath := house(t, []corpus.Wheel{six})
	if root == "" {
		root = filepath.Join(t.TempDir(), "root")
	}
	if _, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: py, Root: root}, Options{Release: "r1", Wheelhouse: wh}); err != nil {
		t.Fatal(err)
	}
	return &fixture{py: py, root: root, wh: wh, six: six}
}

// attempt installs release r2 from lockText and wheelhouse wh, expects an
// error containing want, and checks nothing changed: current is still r1,
// and r1 is the only release directory.
func (f *fixture) attempt(t *testing.T, wh, lockName, lockText, python, want string) {
	t.Helper()
	lockPath := filepath.Join(t.TempDir(), lockName)
	if err := os.WriteFile(lockPath, []byte(lockText), 0o644); err != nil {
		t.Fatal(err)
	}
	if python == "" {
		python = f.py
	}
	_, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: python, Root: f.root, Compile: true}, Options{Release: "r2", Wheelhouse: wh})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want an error containing %q, got %v", want, err)
	}
	f.unchanged(t)
}

func (f *fixture) unchanged(t *testing.T) {
	t.Helper()
	if cur := currentOf(t, f.root); cur != "r1" {
		t.Fatalf("current moved to %q", cur)
	}
	if got := strings.Join(entries(t, f.root), " "); got != "r1" {
		t.Fatalf("release directories after a failed install: %s", got)
	}
	run(t, filepath.Join(f.root, "current", "bin", "python"), "-c", "import six")
}

func lockLine(w corpus.Wheel, sha string) string {
	return w.Name + "==" + w.Version + " \\\n    --hash=sha256:" + sha + "\n"
}

// copyWheel copies a wheel, optionally replacing one member's content
// (RECORD left as it was) or adding members.
func copyWheel(t *testing.T, src, dstDir string, replace map[string]string, add map[string]string) corpus.Wheel {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dst := filepath.Join(dstDir, filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for name, body := range add {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&f.FileHeader)
		if err != nil {
			t.Fatal(err)
		}
		if body, ok := replace[f.Name]; ok {
			io.WriteString(w, body)
			continue
		}
		rc, _ := f.Open()
		io.Copy(w, rc)
		rc.Close()
	}
	zw.Close()
	out.Close()
	sha, _, err := wheelhouse.HashFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := strings.CutSuffix(filepath.Base(src), ".whl")
	parts := strings.Split(name, "-")
	return corpus.Wheel{Name: parts[0], Version: parts[1], File: filepath.Base(dst), Path: dst, SHA256: sha}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, "")
	six := f.six
	t.Run("hash mismatch", func(t *testing.T) {
		f.attempt(t, f.wh, "req.txt", lockLine(six, strings.Repeat("ab", 32)), "", "six=="+six.Version+": hash mismatch for "+six.File)
	})
	t.Run("missing wheel", func(t *testing.T) {
		f.attempt(t, f.wh, "req.txt", lockLine(six, six.SHA256)+"flask==3.1.3 --hash=sha256:"+strings.Repeat("0", 64)+"\n", "", "flask==3.1.3: no wheel in")
	})
	t.Run("no compatible wheel", func(t *testing.T) {
		py38 := corpustest.PyenvPython(t, "3.8")
		cext, err := corpus.CExtension(context.Background(), f.py, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		wh, _ := house(t, []corpus.Wheel{cext})
		f.attempt(t, wh, "req.txt", lockLine(cext, cext.SHA256), py38, "no wheel fits this interpreter; it needs one of the tags cp38-cp38-manylinux")
	})
	t.Run("corrupt zip", func(t *testing.T) {
		dir := t.TempDir()
		data, _ := os.ReadFile(six.Path)
		p := filepath.Join(dir, six.File)
		os.WriteFile(p, data[:len(data)/2], 0o644)
		sha, _, _ := wheelhouse.HashFile(p)
		f.attempt(t, dir, "req.txt", lockLine(six, sha), "", "not a readable zip archive")
	})
	t.Run("member escapes", func(t *testing.T) {
		dir := t.TempDir()
		w := copyWheel(t, six.Path, dir, nil, map[string]string{"../../../../tmp/pwned.py": "x"})
		f.attempt(t, dir, "req.txt", lockLine(six, w.SHA256), "", "member escapes the install target")
	})
	t.Run("RECORD mismatch", func(t *testing.T) {
		dir := t.TempDir()
		w := copyWheel(t, six.Path, dir, map[string]string{"six.py": "raise SystemExit('tampered')\n"}, nil)
		// sizes are checked when the wheel is opened: "RECORD says N bytes, the zip directory M"
		f.attempt(t, dir, "req.txt", lockLine(six, w.SHA256), "", `member "six.py": RECORD`)
	})
	t.Run("unpinned", func(t *testing.T) {
		f.attempt(t, f.wh, "api.txt", "# header\nsix>=1.16 --hash=sha256:"+six.SHA256+"\n", "", "api.txt:2")
	})
	t.Run("unhashed", func(t *testing.T) {
		f.attempt(t, f.wh, "api.txt", "six=="+six.Version+"\n", "", "api.txt:1")
	})
	t.Run("unknown lock format", func(t *testing.T) {
		f.attempt(t, f.wh, "poetry.lock", "[[package]]\nname = \"six\"\n", "", "unknown lock format")
	})
	t.Run("missing interpreter", func(t *testing.T) {
		f.attempt(t, f.wh, "req.txt", lockLine(six, six.SHA256), "/opt/nowhere/python3.99", `"/opt/nowhere/python3.99"`)
	})
	t.Run("leftover of an interrupted install", func(t *testing.T) {
		// a crash mid-install leaves an incomplete release directory
		if err := os.MkdirAll(filepath.Join(f.root, "releases", "r9", "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		lockPath := filepath.Join(t.TempDir(), "req.txt")
		os.WriteFile(lockPath, []byte(lockLine(six, six.SHA256)), 0o644)
		r, _ := release.Open(f.root)
		if list, _ := r.List(); len(list) != 1 {
			t.Fatalf("an incomplete release is listed: %+v", list)
		}
		if _, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: f.py, Root: f.root}, Options{Release: "r3", Wheelhouse: f.wh}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(entries(t, f.root), " "); got != "r1 r3" {
			t.Fatalf("releases: %s", got)
		}
		// back to r1 for the other cases
		if _, _, err := r.Rollback("r1"); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(r.Path("r3"))
	})
}

// TestCancelledInstall interrupts a large install; current stays, and the
// next install needs no cleanup.
func TestCancelledInstall(t *testing.T) {
	f := newFixture(t, "")
	wh, lockPath := house(t, corpustest.Set(t).Wheels)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Set{Name: "s", Lock: lockPath, Python: f.py, Root: f.root, Compile: true}, Options{Release: "big", Wheelhouse: wh})
	if err == nil {
		t.Skip("the install finished before the deadline")
	}
	f.unchanged(t)
}

func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "size=3m")
	f := newFixture(t, filepath.Join(dir, "root"))
	wh, lockPath := house(t, flaskClosure(t))
	_, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: f.py, Root: f.root, Compile: true}, Options{Release: "r2", Wheelhouse: wh})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("want a disk full error, got %v", err)
	}
	f.unchanged(t)
}

func TestUnwritableRoot(t *testing.T) {
	dir := mountTmpfs(t, "size=1m,ro")
	py := corpustest.Python(t)
	six, _ := corpustest.Set(t).Get("six")
	wh, lockPath := house(t, []corpus.Wheel{six})
	_, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: py, Root: filepath.Join(dir, "root")}, Options{Wheelhouse: wh})
	if err == nil || !strings.Contains(err.Error(), "read-only file system") || !strings.Contains(err.Error(), filepath.Join(dir, "root")) {
		t.Fatalf("want a read-only error naming the root, got %v", err)
	}
}
