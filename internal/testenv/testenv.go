// Package testenv is TEST-ONLY: the one rule for missing test
// prerequisites, read the same way everywhere.
//
// Two variables ask for a failure instead of a skip, so that CI cannot
// pass by skipping: PIPBAKE_E2E_REQUIRED for the end-to-end tools (sshd,
// packer and its plugins, nginx, moto_server, a registry, debootstrap and
// root, cosign, node), PIPBAKE_CORPUS_REQUIRED for the real Python parts
// (the interpreters, the wheel corpus). Each is on when set to anything but
// "" or "0".
//
// And `go test -short` (the inner loop, `make check`) skips every test that
// starts packer, moto_server, sshd, debootstrap or another tool, whatever
// the variables say: -short asks for exactly that.
//
// ModuleDir finds the module's source for tests that build or read it.
package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The variables that turn a missing prerequisite into a failure.
const (
	E2EEnv    = "PIPBAKE_E2E_REQUIRED"
	CorpusEnv = "PIPBAKE_CORPUS_REQUIRED"
)

// on reports whether the variable name is set to anything but "" or "0".
func on(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0"
}

// Required reports whether PIPBAKE_E2E_REQUIRED asks missing end-to-end
// prerequisites to fail tests rather than skip them.
func Required() bool { return on(E2EEnv) }

// CorpusRequired reports whether PIPBAKE_CORPUS_REQUIRED asks a missing
// Python or wheel corpus to fail tests rather than skip them.
func CorpusRequired() bool { return on(CorpusEnv) }

// Missing skips tb, or fails it when Required: an end-to-end prerequisite
// is missing.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	missing(tb, E2EEnv, format, args...)
}

// MissingCorpus skips tb, or fails it when CorpusRequired: a Python
// interpreter or the wheel corpus is missing.
func MissingCorpus(tb testing.TB, format string, args ...any) {
	tb.Helper()
	missing(tb, CorpusEnv, format, args...)
}

func missing(tb testing.TB, env, format string, args ...any) {
	tb.Helper()
	if on(env) {
		tb.Fatalf(format+" (and %s is set)", append(args, env)...)
	}
	tb.Skipf(format+"; set %s=1 to fail instead", append(args, env)...)
}

// SkipShort skips tb under `go test -short`, saying what it would start
// (e.g. "starts packer").
func SkipShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("-short: %s", what)
	}
}

// Root skips tb, or fails it when Required, unless the test runs as root
// (what says why it needs root: "mounts a tmpfs").
func Root(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "%s: needs root", what)
	}
}

// modulePath is the module ModuleDir looks for.
const modulePath = "github.com/pipbake/packer-plugin-pipbake"

// ModuleDir returns the module's root folder: the nearest folder at or
// above the test's working directory (its package's folder) whose go.mod
// declares the module. From the working directory, not the compiled-in
// source path, which a -trimpath build (as make test builds) leaves
// relative.
func ModuleDir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testenv: working directory: %v", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			first, _, _ := strings.Cut(string(data), "\n")
			if strings.TrimSpace(first) == "module "+modulePath {
				return d
			}
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("testenv: no go.mod of %s at or above %s", modulePath, wd)
		}
	}
}

// Eventually reports whether cond holds within timeout, asking every 20
// ms. A test that checks what a kill or an exit leaves behind asks this
// instead of sleeping a guess first: on a busy machine the kernel takes
// longer to tear a process down than a fixed sleep allows.
func Eventually(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
	}
}
