package cli

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// findInstalls lists the processes running this very binary as
// `install -f planFile` (not the sudo or shell around them, which run
// other binaries; nor this process).
func findInstalls(planFile string) ([]int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	selfInfo, err := os.Stat(self)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := "/proc/" + e.Name()
		// the binary, even if its file was removed meanwhile
		exe, err := os.Stat(dir + "/exe")
		if err != nil || !os.SameFile(exe, selfInfo) {
			continue
		}
		cmdline, err := os.ReadFile(dir + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.Split(string(bytes.TrimSuffix(cmdline, []byte{0})), "\x00")
		if isInstallOf(argv, planFile) && running(pid) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// isInstallOf reports whether argv is `pipbake install ... -f planFile ...`.
func isInstallOf(argv []string, planFile string) bool {
	if len(argv) < 2 || argv[1] != "install" {
		return false
	}
	args := argv[2:]
	for i, a := range args {
		if (a == "-f" || a == "--f") && i+1 < len(args) && samePlan(args[i+1], planFile) {
			return true
		}
		for _, prefix := range []string{"-f=", "--f="} {
			if v, ok := strings.CutPrefix(a, prefix); ok && samePlan(v, planFile) {
				return true
			}
		}
	}
	return false
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}
