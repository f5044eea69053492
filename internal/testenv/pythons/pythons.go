// Package pythons finds the Python interpreters installed on a development
// machine (pyenv's and the system's) for tests that run against each.
package pythons

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// Versions are the minor versions tests cover.
var Versions = []string{"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}

// Find returns the absolute paths of the interpreters present: pyenv's
// python3.X for each of Versions, then /usr/bin/python3.
func Find() []string {
	found, _ := find()
	return found
}

// find returns the interpreters present and the minor versions of
// Versions pyenv lacks.
func find() (found, lacking []string) {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".pyenv")
	}
	for _, v := range Versions {
		m, _ := filepath.Glob(filepath.Join(root, "versions", v+".*", "bin", "python"+v))
		if len(m) == 0 {
			lacking = append(lacking, v)
		}
		found = append(found, m...)
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		found = append(found, "/usr/bin/python3")
	} else {
		lacking = append(lacking, "/usr/bin/python3")
	}
	return found, lacking
}

// All returns Find's interpreters. Where some are missing (a pyenv minor
// version of Versions, or /usr/bin/python3) it fails the test when
// PIPBAKE_CORPUS_REQUIRED is set, so CI cannot pass on fewer; otherwise it
// skips the test when there are none.
func All(t testing.TB) []string {
	t.Helper()
	found, lacking := find()
	if len(lacking) > 0 && testenv.CorpusRequired() {
		t.Fatalf("pythons: no interpreter for %s (pyenv's under $PYENV_ROOT or ~/.pyenv; and %s is set)", strings.Join(lacking, ", "), testenv.CorpusEnv)
	}
	if len(found) == 0 {
		testenv.MissingCorpus(t, "pythons: no Python interpreters on this machine")
	}
	return found
}

// Version311 returns pyenv's Python 3.11 (the one whose installed
// distributions make the test corpus); without it the test skips, or fails
// when PIPBAKE_CORPUS_REQUIRED is set.
func Version311(t testing.TB) string {
	t.Helper()
	for _, p := range Find() {
		if strings.HasSuffix(p, "python3.11") && strings.Contains(p, "pyenv") {
			return p
		}
	}
	testenv.MissingCorpus(t, "pythons: pyenv's Python 3.11 is not installed")
	return ""
}

// Label names an interpreter path for subtests, e.g. "3.11.7" or "system".
func Label(p string) string {
	if strings.HasPrefix(p, "/usr/bin/") {
		return "system-" + filepath.Base(p)
	}
	return filepath.Base(filepath.Dir(filepath.Dir(p)))
}
