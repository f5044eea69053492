//go:build !pipbake_agent

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchInfersNPM: a lock is npm's by its name or, under another name,
// by its content; npm and Python locks are not mixed in one fetch; an npm
// fetch needs a target.
func TestFetchInfersNPM(t *testing.T) {
	dir := t.TempDir()
	npmLock := filepath.Join(dir, "deps.json")
	os.WriteFile(npmLock, []byte("{\n  \"name\": \"x\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\"\": {}}\n}\n"), 0o644)
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(reqs, []byte("flask==3.0.0 --hash=sha256:"+strings.Repeat("a", 64)+"\n"), 0o644)
	if !isNPMLock(npmLock) || !isNPMLock(filepath.Join(dir, "package-lock.json")) || isNPMLock(reqs) {
		t.Fatal("isNPMLock")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lock", npmLock, "--lock", reqs, "--out", filepath.Join(dir, "o")}, "give either npm locks or Python locks"},
		{[]string{"--lock", npmLock, "--out", filepath.Join(dir, "o")}, "describe the target with --os and --cpu"},
		{[]string{"--lock", npmLock, "--out", filepath.Join(dir, "o"), "--os", "linux", "--cpu", "x64", "--target-node", "node"}, "not both"},
	} {
		_, stderr, code, err := invoke(t, append([]string{"fetch"}, c.args...)...)
		var ee *exitError
		if !errors.As(err, &ee) || code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "Usage:\n  pipbake fetch ") {
			t.Errorf("fetch %v: %v, want exit 2 saying %q", c.args, err, c.want)
		}
	}
	// An npm lock with nothing to fetch writes an empty folder with its index.
	out := filepath.Join(dir, "o")
	if _, _, _, err := invoke(t, "fetch", "--lock", npmLock, "--out", out, "--os", "linux", "--cpu", "x64", "--quiet", "--cache", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "npm-tarballs.json")); err != nil {
		t.Error(err)
	}
}
