// Package pythons finds the Python interpreters installed on a development
// machine (pyenv's and the system's) for tests that run against each.
package pythons

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Versions are the minor versions tests cover.
var Versions = []string{"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}

// Find returns the absolute paths of the interpreters present: pyenv's
// python3.X for each of Versions, then /usr/bin/python3.
func Find() []string {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".pyenv")
	}
	var out []string
	for _, v := range Versions {
		m, _ := filepath.Glob(filepath.Join(root, "versions", v+".*", "bin", "python"+v))
		out = append(out, m...)
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		out = append(out, "/usr/bin/python3")
	}
	return out
}

// All returns Find's interpreters, skipping the test when there are none.
func All(t testing.TB) []string {
	t.Helper()
	out := Find()
	if len(out) == 0 {
		t.Skip("no Python interpreters on this machine")
	}
	return out
}

// Version311 returns pyenv's Python 3.11 (the one whose installed
// distributions make the test corpus), or skips.
func Version311(t testing.TB) string {
	t.Helper()
	for _, p := range Find() {
		if strings.HasSuffix(p, "python3.11") && strings.Contains(p, "pyenv") {
			return p
		}
	}
	t.Skip("pyenv's Python 3.11 is not installed")
	return ""
}

// Label names an interpreter path for subtests, e.g. "3.11.7" or "system".
func Label(p string) string {
	if strings.HasPrefix(p, "/usr/bin/") {
		return "system-" + filepath.Base(p)
	}
	return filepath.Base(filepath.Dir(filepath.Dir(p)))
}
