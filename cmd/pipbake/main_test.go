package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/cli"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
)

// pipbake runs the command line in process, as the binary would
// (cli.Run), and returns its standard output, standard error and exit
// status. It changes no process-wide state: tests using it run in
// parallel, giving absolute paths.
func pipbake(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestDemo(t *testing.T) {
	t.Parallel()
	py := corpustest.Python(t)
	dir := t.TempDir()
	out, errOut, code := pipbake(t, "demo", "--python", py, "--out", filepath.Join(dir, "out"))
	if code != 0 || !strings.Contains(out, "Hello from hello 0.1.0") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = pipbake(t, "verify", "--root", filepath.Join(dir, "out/hello"))
	if code != 0 || !strings.Contains(out, "is intact") {
		t.Fatalf("verify after demo: exit %d: %s", code, out)
	}
}

// TestPlanVerifyRollback drives the CLI end to end: a two-set plan, two
// releases, verify's exit codes, releases, local rollback.
func TestPlanVerifyRollback(t *testing.T) {
	t.Parallel()
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	dir := t.TempDir()
	wh := filepath.Join(dir, "wheels")
	os.MkdirAll(wh, 0o755)
	flask, err := set.Closure(t.Context(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	six, _ := set.Get("six")
	for _, w := range append(flask, six) {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	if err := corpus.WriteRequirements(filepath.Join(dir, "api.txt"), flask); err != nil {
		t.Fatal(err)
	}
	if err := corpus.WriteRequirements(filepath.Join(dir, "worker.txt"), []corpus.Wheel{six}); err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "srv")
	plan := fmt.Sprintf(`
wheelhouse = "%[3]s/wheels"
set {
  name   = "api"
  lock   = "%[3]s/api.txt"
  root   = "%[1]s/api"
  python = "%[2]s"
}
set {
  name      = "worker"
  lock      = "%[3]s/worker.txt"
  root      = "%[1]s/worker"
  python    = "%[2]s"
  compile   = false
  installer = "pip"
}
`, roots, py, dir)
	os.WriteFile(filepath.Join(dir, "pipbake.hcl"), []byte(plan), 0o644)
	for _, rel := range []string{"1", "2"} {
		out, errOut, code := pipbake(t, "install", "-f", filepath.Join(dir, "pipbake.hcl"), "--release", rel)
		if code != 0 {
			t.Fatalf("install %s: exit %d\n%s\n%s", rel, code, out, errOut)
		}
		if !strings.Contains(out, "api: installed release "+rel) || !strings.Contains(out, "worker: installed release "+rel) {
			t.Fatalf("install output: %s", out)
		}
	}
	out, _, code := pipbake(t, "releases", "--root", roots+"/api")
	if code != 0 || !strings.Contains(out, "*  2 ") || !strings.Contains(out, "   1 ") {
		t.Fatalf("releases: %d %s", code, out)
	}
	if out, _, code := pipbake(t, "verify", "--root", roots+"/api"); code != 0 {
		t.Fatalf("verify clean: exit %d %s", code, out)
	}
	// drift: exit 1 and the path
	os.WriteFile(filepath.Join(roots, "api/releases/2/lib/python3.11/site-packages/flask/app.py"), []byte("x"), 0o644)
	out, _, code = pipbake(t, "verify", "--root", roots+"/api")
	if code != 1 || !strings.Contains(out, "modified   lib/python3.11/site-packages/flask/app.py") {
		t.Fatalf("verify drift: exit %d %s", code, out)
	}
	// error: exit 2
	if _, errOut, code := pipbake(t, "verify", "--root", filepath.Join(dir, "nothing")); code != 2 || !strings.Contains(errOut, "no current release") {
		t.Fatalf("verify error: exit %d %s", code, errOut)
	}
	// rollback to 1, and the app runs from it
	out, _, code = pipbake(t, "rollback", "--root", roots+"/api")
	if code != 0 || !strings.Contains(out, "current is now 1 (was 2)") {
		t.Fatalf("rollback: %d %s", code, out)
	}
	if target, _ := os.Readlink(filepath.Join(roots, "api/current")); target != "releases/1" {
		t.Fatalf("current -> %s", target)
	}
	if out, _, code := pipbake(t, "verify", "--root", roots+"/api"); code != 0 {
		t.Fatalf("verify after rollback: %d %s", code, out)
	}
	// bad plan: every problem with file:line, nothing installed
	os.WriteFile(filepath.Join(dir, "bad.hcl"), []byte("set {\n  name = \"x\"\n  lock = \"api.txt\"\n  root = \"relative\"\n  colour = 1\n}\n"), 0o644)
	_, errOut, code := pipbake(t, "install", "-f", filepath.Join(dir, "bad.hcl"))
	if code == 0 || !strings.Contains(errOut, "bad.hcl:5: Unsupported argument") {
		t.Fatalf("bad plan: %d %s", code, errOut)
	}
	// usage errors exit 2
	if _, _, code := pipbake(t, "install", "--lock", filepath.Join(dir, "api.txt")); code != 2 {
		t.Fatalf("missing flags: exit %d", code)
	}
}

// TestLeanAgentBuild builds the agent release builds embed (-tags
// pipbake_agent) and checks it installs but carries no catalog commands.
func TestLeanAgentBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the agent")
	}
	t.Parallel()
	agent := filepath.Join(t.TempDir(), "pipbake")
	if out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-o", agent, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := exec.Command(agent, "install", "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "-wheelhouse") {
		t.Errorf("install -h: %v\n%s", err, out)
	}
	out, err := exec.Command(agent, "promote", "--asg", "x").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown command "promote"`) {
		t.Errorf("the lean agent should not promote: %v %s", err, out)
	}
}
