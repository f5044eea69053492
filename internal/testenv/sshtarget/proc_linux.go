package sshtarget

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func sysProcAttr() *syscall.SysProcAttr {
	// Its own process group, and killed with the test binary should that
	// die without calling Stop.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

type proc struct {
	ppid   int
	zombie bool
}

// procs reads every process's parent from /proc.
func procs() map[int]proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	m := make(map[int]proc, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		m[pid] = proc{ppid: ppid, zombie: f[0] == "Z" || f[0] == "X"}
	}
	return m
}

// marked reports whether pid runs in one of this server's SSH sessions:
// sshd sets SSH_CONNECTION="client port server port" for them.
func marked(pid, port int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	suffix := " 127.0.0.1 " + strconv.Itoa(port)
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("SSH_CONNECTION=")); ok && bytes.HasSuffix(v, []byte(suffix)) {
			return true
		}
	}
	return false
}

// killTree stops root (unless -1), its descendants and every process marked
// with this server's port, until no new one appears (a stopped process
// cannot fork, so the set closes), then kills them all. Stopping first keeps
// children from being orphaned to init, out of sight, while their parents
// die.
func killTree(root, port int) {
	self := os.Getpid()
	stopped := map[int]bool{}
	stop := func(pid int) bool {
		if stopped[pid] || pid == self || pid <= 1 {
			return false
		}
		stopped[pid] = true
		syscall.Kill(pid, syscall.SIGSTOP)
		return true
	}
	if root > 0 {
		stop(root)
	}
	for round := 0; round < 100; round++ {
		grew := false
		for pid, p := range procs() {
			if p.zombie || stopped[pid] {
				continue
			}
			if stopped[p.ppid] || marked(pid, port) {
				grew = stop(pid) || grew
			}
		}
		if !grew {
			break
		}
	}
	for pid := range stopped {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	// Wait (briefly) until they are gone or zombies.
	deadline := time.Now().Add(5 * time.Second)
	for pid := range stopped {
		for time.Now().Before(deadline) {
			p, ok := procs()[pid]
			if !ok || p.zombie {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
