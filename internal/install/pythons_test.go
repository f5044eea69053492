package install

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
)

// TestInterpreters installs, on every interpreter of the machine (pyenv
// 3.8 to 3.13 and Debian's python3), a set with a C extension built for
// that interpreter, a pure wheel and a wheel with .data scripts, with
// bytecode, and runs them.
func TestInterpreters(t *testing.T) {
	set := corpustest.Set(t)
	six, _ := set.Get("six")
	for _, py := range pythons.All(t) {
		t.Run(pythons.Label(py), func(t *testing.T) {
			cext, err := corpus.CExtension(context.Background(), py, "")
			if err != nil {
				t.Skipf("cannot build the C extension for %s (headers missing?): %v", py, err)
			}
			wh, lockPath := house(t, []corpus.Wheel{six, cext})
			root := filepath.Join(t.TempDir(), "root")
			res, err := Run(context.Background(), Set{Name: "x", Lock: lockPath, Python: py, Root: root, Compile: true}, Options{Wheelhouse: wh})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.CompileErrors) > 0 {
				t.Errorf("compile errors: %v", res.CompileErrors)
			}
			out := run(t, filepath.Join(root, "current/bin/python"), "-c", "import sys, six, pipbake_cext; print(sys.prefix != sys.base_prefix, pipbake_cext.add(40, 2), six.__file__)")
			if !strings.HasPrefix(out, "True 42 "+filepath.Join(root, "current", "lib")) {
				t.Errorf("imports: %s", out)
			}
			// the console script and the #!python .data script
			run(t, filepath.Join(root, "current/bin/pipbake-cext"))
			run(t, filepath.Join(root, "current/bin/pipbake-cext-hello"))
		})
	}
}
