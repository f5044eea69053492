package install

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// TestPipDiesWithAgent kills (SIGKILL) an agent installing with
// --installer pip while pip runs: pip dies with it, rather than going on
// installing into a release nobody owns any more. (It failed before pip
// was started with a parent-death signal from a locked thread: pip ran
// on to the end.) The killed install leaves nothing in TMPDIR (pip's
// scratch folder was there, and stayed), and the next install into the
// root removes what it left there.
func TestPipDiesWithAgent(t *testing.T) {
	bin := agentBinary(t)
	py := corpustest.Python(t)
	wh, lockPath := house(t, corpustest.Set(t).Wheels)
	root := filepath.Join(t.TempDir(), "root")
	tmpdir := t.TempDir()
	env := append(target.CleanEnv(os.Environ()), pyccache.Env+"="+pyccache.Off, "TMPDIR="+tmpdir)
	cmd := exec.Command(bin, "install", "--lock", lockPath, "--wheelhouse", wh, "--root", root, "--python", py,
		"--release", "r1", "--installer", "pip")
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var pip []int
	deadline := time.Now().Add(time.Minute)
	for len(pip) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pip never started:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
		for _, pid := range children(cmd.Process.Pid) {
			if args, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); bytes.Contains(args, []byte("--require-hashes")) {
				pip = append(pip, pid)
			}
		}
	}
	// let pip get going
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	for _, pid := range pip {
		for running(pid) && time.Since(killed) < 2*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("pip (pid %d) still runs %v after the agent was killed", pid, time.Since(killed).Round(time.Millisecond))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if left, _ := os.ReadDir(tmpdir); len(left) > 0 {
		t.Errorf("the killed install left %d entries in TMPDIR, e.g. %s", len(left), left[0].Name())
	}
	scratch, _ := filepath.Glob(filepath.Join(root, "releases", "r1", ".pipbake-pip-*"))
	if len(scratch) != 1 {
		t.Errorf("pip's scratch folder in the killed release: %q, want one", scratch)
	}
	again := exec.Command(bin, "install", "--lock", lockPath, "--wheelhouse", wh, "--root", root, "--python", py, "--release", "r2")
	again.Env = env
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("the next install: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", "r1")); err == nil {
		t.Error("the next install left the killed release r1")
	}
	if left, _ := filepath.Glob(filepath.Join(root, "releases", "*", ".pipbake-pip-*")); len(left) > 0 {
		t.Errorf("pip scratch folders after the next install: %q", left)
	}
}

// procStat reads a process's state and parent from /proc/<pid>/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// running reports whether pid runs (a zombie has finished).
func running(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(p); ok && ppid == pid {
			out = append(out, p)
		}
	}
	return out
}
