// Package corpustest hands tests the corpus of real wheels and this
// machine's Python interpreters, skipping (or, with PIPBAKE_CORPUS_REQUIRED
// set, failing) with a clear message where they are absent.
package corpustest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// unavailable skips the test, or fails it when PIPBAKE_CORPUS_REQUIRED is
// on (testenv's rule) so CI cannot pass by skipping.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	testenv.MissingCorpus(tb, format, args...)
}

// Python returns the corpus interpreter (corpus.DefaultPython), skipping
// the test if it is not installed.
func Python(tb testing.TB) string {
	tb.Helper()
	p := corpus.DefaultPython()
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		unavailable(tb, "corpus python %s is not installed; install pyenv %s or set PIPBAKE_CORPUS_PYTHON", p, corpus.SourceVersion)
	}
	return p
}

// PyenvPython returns the newest pyenv interpreter of a minor version such
// as "3.8", skipping the test if there is none.
func PyenvPython(tb testing.TB, minor string) string {
	tb.Helper()
	p, err := corpus.FindPyenvPython(minor)
	if err != nil {
		unavailable(tb, "no Python %s: %v", minor, err)
	}
	return p
}

var (
	setOnce sync.Once
	set     *corpus.Set
	setErr  error
)

// Set returns the repacked corpus of corpus.DefaultPython in its default
// cache directory, repacking at most once per test binary.
func Set(tb testing.TB) *corpus.Set {
	tb.Helper()
	python := Python(tb)
	setOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		set, setErr = corpus.Repack(ctx, corpus.Options{Python: python, Logf: tb.Logf})
	})
	if setErr != nil {
		tb.Fatalf("repack corpus: %v", setErr)
	}
	return set
}

// Run runs python with args in a clean environment (no PIP_* or PYTHON*
// variables) plus env ("KEY=value"), failing the test with the output if it
// fails, and returns its standard output.
func Run(tb testing.TB, python string, env []string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := corpus.Command(ctx, python, args...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", python, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// PipInstall installs wheels into target with python's own pip, offline
// and isolated from any pip configuration:
//
//	python -m pip install --isolated --no-index --no-deps --no-compile --target TARGET WHEEL...
func PipInstall(tb testing.TB, python, target string, wheels ...string) {
	tb.Helper()
	args := append([]string{"-m", "pip", "install", "--isolated", "--no-index", "--no-deps",
		"--no-compile", "--disable-pip-version-check", "--no-warn-script-location", "--target", target}, wheels...)
	Run(tb, python, nil, args...)
}
