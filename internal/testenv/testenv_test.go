package testenv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// TestVariablesReadAlike: both variables are on for anything but "" and
// "0", the same way.
func TestVariablesReadAlike(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{{"", false}, {"0", false}, {"1", true}, {"yes", true}, {"true", true}} {
		t.Setenv(testenv.E2EEnv, c.v)
		t.Setenv(testenv.CorpusEnv, c.v)
		if testenv.Required() != c.want || testenv.CorpusRequired() != c.want {
			t.Errorf("%q: Required %v, CorpusRequired %v, want %v", c.v, testenv.Required(), testenv.CorpusRequired(), c.want)
		}
	}
}

// TestHelperMissing is run by TestMissingFailsWhenRequired in a child test
// process.
func TestHelperMissing(t *testing.T) {
	switch os.Getenv("E2ETEST_HELPER") {
	case "e2e":
		testenv.Missing(t, "no %s here", "widget")
	case "corpus":
		testenv.MissingCorpus(t, "no %s here", "corpus")
	default:
		t.Skip("a helper of TestMissingFailsWhenRequired")
	}
}

// TestMissingFailsWhenRequired: a missing prerequisite skips the test,
// and fails it when its variable is on; "0" is off.
func TestMissingFailsWhenRequired(t *testing.T) {
	for _, c := range []struct {
		helper, env, value string
		fail               bool
	}{
		{"e2e", testenv.E2EEnv, "", false},
		{"e2e", testenv.E2EEnv, "0", false},
		{"e2e", testenv.E2EEnv, "1", true},
		{"e2e", testenv.CorpusEnv, "1", false}, // the other variable
		{"corpus", testenv.CorpusEnv, "0", false},
		{"corpus", testenv.CorpusEnv, "1", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMissing$", "-test.v")
		env := []string{"E2ETEST_HELPER=" + c.helper, c.env + "=" + c.value}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, testenv.E2EEnv+"=") && !strings.HasPrefix(kv, testenv.CorpusEnv+"=") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != c.fail || !strings.Contains(string(out), "no "+map[string]string{"e2e": "widget", "corpus": "corpus"}[c.helper]+" here") {
			t.Errorf("%s with %s=%q: failed %v, want %v:\n%s", c.helper, c.env, c.value, failed, c.fail, out)
		}
		if !c.fail && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("%s with %s=%q: not skipped:\n%s", c.helper, c.env, c.value, out)
		}
	}
}

// TestSkipShort skips under -short and does nothing otherwise.
func TestSkipShort(t *testing.T) {
	ran := false
	t.Run("x", func(t *testing.T) {
		testenv.SkipShort(t, "starts a widget")
		ran = true
	})
	if ran == testing.Short() {
		t.Errorf("-short %v, ran %v", testing.Short(), ran)
	}
}

func TestModuleDir(t *testing.T) {
	wd, _ := os.Getwd()
	want := filepath.Dir(filepath.Dir(wd)) // internal/testenv
	if got := testenv.ModuleDir(t); got != want {
		t.Errorf("ModuleDir: %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(testenv.ModuleDir(t), "cmd", "pipbake", "main.go")); err != nil {
		t.Error(err)
	}
}

// TestEventually: true as soon as the condition holds, false after the
// timeout when it never does, and the condition asked once more at the
// end.
func TestEventually(t *testing.T) {
	n := 0
	if !testenv.Eventually(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("held on the third ask: %d asks", n)
	}
	start := time.Now()
	if testenv.Eventually(100*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds held")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", d)
	}
}
