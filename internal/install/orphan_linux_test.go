package install

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// TestNoOrphanedCompilers kills a real `pipbake install` with SIGKILL while
// its bytecode workers are compiling, and checks that every worker dies
// with it and that no .pyc lands in the abandoned release afterwards.
// Without a parent-death signal the workers went on through the requests
// already queued to them for seconds, writing bytecode into a release
// nobody owned any more.
func TestNoOrphanedCompilers(t *testing.T) {
	py := pythons.Version311(t)
	work := t.TempDir()
	wheels := filepath.Join(work, "wheels")
	if err := os.MkdirAll(wheels, 0o755); err != nil {
		t.Fatal(err)
	}
	// Modules that each take a few tenths of a second to compile: the
	// workers are surely busy, with requests queued, when the kill comes.
	b, err := wheelpack.New(wheelpack.Meta{Name: "slowpkg", Version: "1.0", RootIsPurelib: true})
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for i := 0; i < 1200; i++ {
		fmt.Fprintf(&src, "def f%d(a, b):\n    return [a + b * %d for _ in range(a)] + list({i: i * %d for i in range(b)})\n", i, i, i)
	}
	for i := 0; i < 40; i++ {
		if err := b.Add(fmt.Sprintf("slowpkg/m%02d.py", i), 0o644, []byte(src.String())); err != nil {
			t.Fatal(err)
		}
	}
	mustOK(t, b.Add("slowpkg/__init__.py", 0o644, nil))
	mustOK(t, b.Add(b.DistInfo()+"/METADATA", 0o644, []byte("Metadata-Version: 2.1\nName: slowpkg\nVersion: 1.0\n")))
	res, err := b.WriteFile(wheels)
	if err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(work, "requirements.txt")
	mustOK(t, os.WriteFile(lockFile, []byte("slowpkg==1.0 --hash=sha256:"+res.SHA256+"\n"), 0o644))
	root := filepath.Join(work, "root")

	cmd := exec.Command(agentBinary(t), "install", "--lock", lockFile, "--wheelhouse", wheels, "--root", root,
		"--python", py, "--release", "r1")
	// no bytecode cache: every module is compiled
	cmd.Env = append(target.CleanEnv(os.Environ()), "PIPBAKE_COMPILE_WORKERS=2", pyccache.Env+"="+pyccache.Off)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	mustOK(t, cmd.Start())
	defer cmd.Process.Kill()

	// Wait until the first .pyc is written: compiling is under way.
	release := filepath.Join(root, "releases", "r1")
	deadline := time.Now().Add(2 * time.Minute)
	for len(pycFiles(release)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no .pyc written within 2 minutes:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	workers := childPythons(cmd.Process.Pid)
	if len(workers) == 0 {
		t.Fatalf("no compiler processes under pid %d", cmd.Process.Pid)
	}
	mustOK(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	killed := time.Now()

	// The workers die with the agent (a parent-death signal is immediate;
	// allow for a loaded machine: the signal is sent as the agent exits,
	// and a worker inside a system call finishes it before it dies).
	for _, pid := range workers {
		for running(pid) && time.Since(killed) < 2*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("compiler pid %d is still running %v after the agent was killed", pid, time.Since(killed).Round(time.Millisecond))
		}
	}
	// What is there once the workers are gone: a rename a worker was
	// inside of when the signal came completes all the same.
	before := pycFiles(release)
	// Long enough for a surviving worker to finish the file it was on and
	// the ones queued to it (a few tenths of a second each). -short waits
	// 1 s: a worker the check above missed would have
	// written by then on a quiet machine.
	wait := 3 * time.Second
	if testing.Short() {
		wait = time.Second
	}
	time.Sleep(wait)
	after := pycFiles(release)
	var added []string
	for p := range after {
		if !before[p] {
			added = append(added, p)
		}
	}
	if len(added) > 0 {
		t.Errorf("%d .pyc files were written into the abandoned release after the kill (%d before): %v", len(added), len(before), added)
	}
	for _, pid := range workers {
		if running(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pycFiles lists the .pyc files under dir.
func pycFiles(dir string) map[string]bool {
	out := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".pyc") {
			out[p] = true
		}
		return nil
	})
	return out
}

// childPythons lists the Python processes whose parent is pid.
func childPythons(pid int) []int {
	var out []int
	for _, p := range children(pid) {
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "python") {
			out = append(out, p)
		}
	}
	return out
}
