package corpus

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// CExtVersion is the version of the pipbake_cext wheel.
const CExtVersion = "1.0.0"

// cextKeyVersion changes whenever CExtension changes what it writes.
const cextKeyVersion = 1

//go:embed cext
var cextSource embed.FS

// CExtension builds, with gcc against python's own headers, the wheel
// pipbake_cext-1.0.0-cpXY-cpXY-<platform>.whl (Root-Is-Purelib: false).
// It holds the extension module pipbake_cext (add(a, b) and __version__),
// the pure-Python module pipbake_cext_cli with a console_scripts entry
// point "pipbake-cext", and the script .data/scripts/pipbake-cext-hello
// with a "#!python" shebang. The wheel goes to dir/cext/<Interpreter.ID> (dir "" means the
// interpreter's DefaultDir) and is rebuilt only when the interpreter, gcc
// or the source changes.
func CExtension(ctx context.Context, python, dir string) (Wheel, error) {
	what := "build pipbake_cext for " + python
	if err := checkPython(python); err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	in, err := Inspect(ctx, python)
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	if dir == "" {
		if dir, err = DefaultDir(in.Tag()); err != nil {
			return Wheel{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	outDir := filepath.Join(dir, "cext", in.ID())
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	gccVersion, err := exec.CommandContext(ctx, "gcc", "--version").Output()
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: run gcc: %w", what, err)
	}
	tag := in.Tag() + "-" + in.Tag() + "-" + in.PlatformTag()
	file, err := wheelpack.Filename("pipbake_cext", CExtVersion, "", []string{tag})
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	key, err := cextKey(in, gccVersion)
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	w := Wheel{Name: "pipbake_cext", Version: CExtVersion, File: file, Path: filepath.Join(outDir, file)}

	stamp := w.Path + ".json"
	var cached struct {
		Key, SHA256 string
		Size        int64
	}
	if data, err := os.ReadFile(stamp); err == nil && json.Unmarshal(data, &cached) == nil && cached.Key == key {
		if fi, err := os.Stat(w.Path); err == nil && fi.Size() == cached.Size {
			w.SHA256, w.Size = cached.SHA256, cached.Size
			return w, nil
		}
	}

	res, err := buildCExt(ctx, in, tag, outDir)
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	w.SHA256, w.Size = res.SHA256, res.Size
	cached.Key, cached.SHA256, cached.Size = key, res.SHA256, res.Size
	data, _ := json.Marshal(cached)
	if err := writeFileAtomic(stamp, data); err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", what, err)
	}
	return w, nil
}

// cextKey hashes everything the wheel is built from.
func cextKey(in *Interpreter, gccVersion []byte) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "pipbake_cext %d %s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", cextKeyVersion, CExtVersion,
		in.Executable, in.FullVersion, in.Include, in.ExtSuffix, in.Platform)
	h.Write(gccVersion)
	err := fs.WalkDir(cextSource, "cext", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := cextSource.ReadFile(p)
		fmt.Fprintf(h, "\x00%s\x00%d\x00", p, len(data))
		h.Write(data)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func buildCExt(ctx context.Context, in *Interpreter, tag, outDir string) (wheelpack.Result, error) {
	if in.ExtSuffix == "" {
		return wheelpack.Result{}, fmt.Errorf("interpreter reports no EXT_SUFFIX")
	}
	tmp, err := os.MkdirTemp("", "pipbake-cext-")
	if err != nil {
		return wheelpack.Result{}, err
	}
	defer os.RemoveAll(tmp)
	src, err := cextSource.ReadFile("cext/pipbake_cext.c")
	if err != nil {
		return wheelpack.Result{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "pipbake_cext.c"), src, 0o644); err != nil {
		return wheelpack.Result{}, err
	}
	so := "pipbake_cext" + in.ExtSuffix
	// Relative paths and no debug info keep the temporary directory out of
	// the object, so the build is reproducible.
	gcc := exec.CommandContext(ctx, "gcc", "-shared", "-fPIC", "-O2", "-Wall",
		fmt.Sprintf(`-DPIPBAKE_CEXT_VERSION="%s"`, CExtVersion),
		"-I", in.Include, "-o", so, "pipbake_cext.c")
	gcc.Dir = tmp
	if out, err := gcc.CombinedOutput(); err != nil {
		return wheelpack.Result{}, fmt.Errorf("gcc: %w: %s", err, strings.TrimSpace(string(out)))
	}

	b, err := wheelpack.New(wheelpack.Meta{
		Name: "pipbake_cext", Version: CExtVersion, Tags: []string{tag},
		RootIsPurelib: false, Generator: "pipbake-corpus", ModTime: wheelpack.DefaultTime,
	})
	if err != nil {
		return wheelpack.Result{}, err
	}
	cli, err := cextSource.ReadFile("cext/pipbake_cext_cli.py")
	if err != nil {
		return wheelpack.Result{}, err
	}
	script, err := cextSource.ReadFile("cext/pipbake-cext-hello")
	if err != nil {
		return wheelpack.Result{}, err
	}
	metadata := fmt.Sprintf("Metadata-Version: 2.1\nName: pipbake_cext\nVersion: %s\nSummary: A tiny C extension built by pipbake's tests\nRequires-Python: >=3.8\n", CExtVersion)
	for _, add := range []error{
		b.AddPath(so, filepath.Join(tmp, so)),
		b.Add("pipbake_cext_cli.py", 0o644, cli),
		b.Add(b.DataDir()+"/scripts/pipbake-cext-hello", 0o755, script),
		b.Add(b.DistInfo()+"/METADATA", 0o644, []byte(metadata)),
		b.Add(b.DistInfo()+"/entry_points.txt", 0o644, []byte("[console_scripts]\npipbake-cext = pipbake_cext_cli:main\n")),
		b.Add(b.DistInfo()+"/top_level.txt", 0o644, []byte("pipbake_cext\npipbake_cext_cli\n")),
	} {
		if add != nil {
			return wheelpack.Result{}, add
		}
	}
	return b.WriteFile(outDir)
}
