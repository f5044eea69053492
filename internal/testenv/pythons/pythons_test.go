package pythons_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
)

// TestHelperAll is run by TestAllFailsWhenRequired in a child process.
func TestHelperAll(t *testing.T) {
	if os.Getenv("PYTHONS_HELPER") == "" {
		t.Skip("a helper of TestAllFailsWhenRequired")
	}
	t.Logf("found %q", pythons.All(t))
}

// TestAllFailsWhenRequired: with PIPBAKE_CORPUS_REQUIRED on, All fails the
// test where pyenv lacks a version (here: all of them, PYENV_ROOT being
// empty), naming what is missing; with it off, the test goes on with what
// there is (or skips, with nothing).
func TestAllFailsWhenRequired(t *testing.T) {
	for _, c := range []struct {
		required string
		fail     bool
	}{{"1", true}, {"0", false}, {"", false}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAll$", "-test.v")
		cmd.Env = append(os.Environ(), "PYTHONS_HELPER=1", "PYENV_ROOT="+t.TempDir(), "PIPBAKE_CORPUS_REQUIRED="+c.required)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fail {
			t.Errorf("PIPBAKE_CORPUS_REQUIRED=%q: failed %v, want %v:\n%s", c.required, err != nil, c.fail, out)
		}
		if c.fail && !strings.Contains(string(out), "no interpreter for 3.8, 3.9, 3.10, 3.11, 3.12, 3.13") {
			t.Errorf("the failure should name the missing versions:\n%s", out)
		}
	}
}
