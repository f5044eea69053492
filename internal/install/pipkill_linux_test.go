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
// on to the end.)
func TestPipDiesWithAgent(t *testing.T) {
	bin := agentBinary(t)
	py := corpustest.Python(t)
	wh, lockPath := house(t, corpustest.Set(t).Wheels)
	root := filepath.Join(t.TempDir(), "root")
	cmd := exec.Command(bin, "install", "--lock", lockPath, "--wheelhouse", wh, "--root", root, "--python", py,
		"--release", "r1", "--installer", "pip")
	cmd.Env = append(target.CleanEnv(os.Environ()), pyccache.Env+"="+pyccache.Off)
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
