package corpus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Bundled copies the wheels the interpreter's ensurepip would install into
// dir/bundled/<Interpreter.ID> (dir "" means the interpreter's DefaultDir) and returns them
// sorted by name. It looks beside the ensurepip module (ensurepip/_bundled),
// in the interpreter's WHEEL_PKG_DIR, and, for an interpreter installed
// under /usr as Debian's is, in /usr/share/python-wheels.
func Bundled(ctx context.Context, python, dir string) ([]Wheel, error) {
	what := "collect bundled wheels of " + python
	if err := checkPython(python); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	in, err := Inspect(ctx, python)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if dir == "" {
		if dir, err = DefaultDir(in.Tag()); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	outDir := filepath.Join(dir, "bundled", in.ID())
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	byFile := map[string]Wheel{}
	for _, src := range in.BundledDirs {
		matches, _ := filepath.Glob(filepath.Join(src, "*.whl"))
		for _, m := range matches {
			file := filepath.Base(m)
			if _, dup := byFile[file]; dup {
				continue
			}
			w, err := copyWheel(m, outDir)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			byFile[file] = w
		}
	}
	if len(byFile) == 0 {
		return nil, fmt.Errorf("%s: no wheels in %s", what, strings.Join(in.BundledDirs, ", "))
	}
	var out []Wheel
	for _, w := range byFile {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := pyname.Normalize(out[i].Name), pyname.Normalize(out[j].Name); a != b {
			return a < b
		}
		return out[i].File < out[j].File
	})
	return out, nil
}

// copyWheel copies the wheel at src into dir unless an identical copy is
// already there.
func copyWheel(src, dir string) (Wheel, error) {
	file := filepath.Base(src)
	parts := strings.Split(strings.TrimSuffix(file, ".whl"), "-")
	if len(parts) < 5 || !pyname.Valid(parts[0]) {
		return Wheel{}, fmt.Errorf("copy %s: not a wheel filename", src)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return Wheel{}, fmt.Errorf("copy %s: %w", src, err)
	}
	sum := sha256.Sum256(data)
	w := Wheel{Name: parts[0], Version: parts[1], File: file, Path: filepath.Join(dir, file),
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if have, err := os.ReadFile(w.Path); err == nil && bytes.Equal(have, data) {
		return w, nil
	}
	if err := writeFileAtomic(w.Path, data); err != nil {
		return Wheel{}, fmt.Errorf("copy %s: %w", src, err)
	}
	return w, nil
}
