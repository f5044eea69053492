package bytecode

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
)

// TestMatchesPyCompile checks the pool's output byte for byte against
// py_compile with UNCHECKED_HASH, for every interpreter.
func TestMatchesPyCompile(t *testing.T) {
	for _, py := range pythons.All(t) {
		t.Run(pythons.Label(py), func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "mod.py")
			if err := os.WriteFile(src, []byte("import sys\n\ndef f(x):\n    return x * 2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(dir, "bad.py")
			if err := os.WriteFile(bad, []byte("print 'python 2'\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			env := target.CleanEnv(os.Environ())
			pool, err := Start(context.Background(), py, 2, env)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			results := map[string]Result{}
			for _, s := range []string{src, bad} {
				pool.Submit(Job{Source: s, Display: "/final/" + filepath.Base(s), Done: func(r Result) {
					mu.Lock()
					results[r.Source] = r
					mu.Unlock()
				}})
			}
			if err := pool.Wait(); err != nil {
				t.Fatal(err)
			}
			if results[bad].Err == nil || !strings.Contains(results[bad].Err.Error(), "SyntaxError") {
				t.Errorf("bad.py: want a SyntaxError, got %+v", results[bad])
			}
			r := results[src]
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			got, err := os.ReadFile(r.PYC)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(got); string(sum[:]) != string(r.SHA256) || int64(len(got)) != r.Size {
				t.Errorf("reported hash/size do not match the file")
			}
			// reference: py_compile with the same display name
			ref := filepath.Join(dir, "ref.pyc")
			cmd := exec.Command(py, "-I", "-c", `import py_compile, sys
py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile="/final/mod.py", doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)`, src, ref)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			want, _ := os.ReadFile(ref)
			if string(got) != string(want) {
				t.Errorf("pyc differs from py_compile's")
			}
			if !strings.Contains(r.PYC, "__pycache__/mod.") {
				t.Errorf("pyc path %q", r.PYC)
			}
		})
	}
}

func TestDeadInterpreter(t *testing.T) {
	pool, err := Start(context.Background(), "/bin/true", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got Result
	pool.Submit(Job{Source: "/x.py", Display: "/x.py", Done: func(r Result) { got = r }})
	if err := pool.Wait(); err == nil {
		t.Fatal("a compiler that exits should fail the pool")
	}
	if got.Err == nil {
		t.Fatal("the job should report an error")
	}
}

// TestWorkerDiesWithRequestsQueued: a compiler that answers two requests
// and exits while more are queued to it fails the pool, and every job still
// gets exactly one answer: the two it gave, errors for the rest.
func TestWorkerDiesWithRequestsQueued(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "python")
	script := "#!/bin/sh\n" +
		"read a; printf 'ok\\t/a.pyc\\t00\\t1\\n'\n" +
		"read b; printf 'ok\\t/b.pyc\\t00\\t1\\n'\n" +
		"exit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	pool, err := Start(context.Background(), fake, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var mu sync.Mutex
	answers := map[string]int{}
	ok := 0
	for i := 0; i < n; i++ {
		src := fmt.Sprintf("/src/%d.py", i)
		pool.Submit(Job{Source: src, Display: src, Done: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			answers[r.Source]++
			if r.Err == nil {
				ok++
			}
		}})
	}
	if err := pool.Wait(); err == nil {
		t.Fatal("a compiler that exits midway should fail the pool")
	}
	if len(answers) != n || ok != 2 {
		t.Fatalf("%d jobs answered (want %d), %d succeeded (want 2)", len(answers), n, ok)
	}
	for src, k := range answers {
		if k != 1 {
			t.Errorf("%s answered %d times", src, k)
		}
	}
}
