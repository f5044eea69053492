package childproc

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// running reports whether pid runs (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestThreadKeepsWorkersAlive checks the premise of Thread: a child with
// Worker's parent-death signal dies when the thread that started it ends
// (here a goroutine that locks its thread and returns, which ends it), and
// one started on a Thread lives until the Thread is released and beyond,
// however many threads come and go meanwhile.
func TestThreadKeepsWorkersAlive(t *testing.T) {
	start := func() *exec.Cmd {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = Worker()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}

	// The hazard: started from a thread that then ends. (Not every such
	// thread ends: the runtime keeps the main thread; so try a few at
	// once, rather than one after another with 2 s for each.)
	var doomed []*exec.Cmd
	for i := 0; i < 5; i++ {
		done := make(chan *exec.Cmd)
		go func() {
			runtime.LockOSThread() // returning locked ends the thread
			done <- start()
		}()
		doomed = append(doomed, <-done)
	}
	died := false
	for deadline := time.Now().Add(2 * time.Second); !died && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		for _, cmd := range doomed {
			died = died || !running(cmd.Process.Pid)
		}
	}
	if !died {
		t.Fatal("no child whose starting thread ended was killed: the parent-death signal is not per thread here")
	}

	th := NewThread()
	var kept *exec.Cmd
	th.Do(func() { kept = start() })
	for i := 0; i < 20; i++ { // threads end around it
		ch := make(chan struct{})
		go func() { runtime.LockOSThread(); close(ch) }()
		<-ch
	}
	time.Sleep(100 * time.Millisecond)
	if !running(kept.Process.Pid) {
		t.Fatal("a child started on a Thread died while the process lives")
	}
	kept.Process.Kill()
	kept.Wait()
	th.Release()
	th.Release()
}
