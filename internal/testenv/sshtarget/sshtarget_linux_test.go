package sshtarget

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStopKillsSessions leaves a live session and a detached background
// process behind and checks Stop ends both.
func TestStopKillsSessions(t *testing.T) {
	s := StartT(t, Options{})
	out, err := s.Run("setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!")
	if err != nil {
		t.Fatal(err)
	}
	detached, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("pid %q: %v", out, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	live := s.Command(ctx, "echo started; exec sleep 600")
	stdout, err := live.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "started\n" {
		t.Fatalf("live session: %q, %v", line, err)
	}

	if !alive(detached) {
		t.Fatalf("detached sleep %d is not running before Stop", detached)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- live.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the live session's ssh client did not end after Stop")
	}
	if alive(detached) {
		t.Errorf("detached sleep %d survived Stop", detached)
	}
	for pid := range procs() {
		if marked(pid, s.Port) && alive(pid) {
			t.Errorf("process %d of a session survived Stop", pid)
		}
	}
}

func alive(pid int) bool {
	p, ok := procs()[pid]
	return ok && !p.zombie
}

// TestNoShellRC: the sessions see an empty ~/.bashrc; this host's is
// untouched.
func TestNoShellRC(t *testing.T) {
	home, _ := os.UserHomeDir()
	rc := filepath.Join(home, ".bashrc")
	before, err := os.ReadFile(rc)
	if os.Geteuid() != 0 || err != nil || len(before) == 0 {
		t.Skip("needs root and a non-empty ~/.bashrc")
	}
	s := StartT(t, Options{NoShellRC: true})
	out, err := s.Run("wc -c < ~/.bashrc")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "0" {
		t.Errorf("the session's ~/.bashrc has %s bytes, want 0", strings.TrimSpace(out))
	}
	after, err := os.ReadFile(rc)
	if err != nil || string(after) != string(before) {
		t.Errorf("this host's ~/.bashrc changed: %v", err)
	}
	// Without the option the session reads the real one.
	plain := StartT(t, Options{})
	out, err = plain.Run("wc -c < ~/.bashrc")
	if err != nil || strings.TrimSpace(out) != fmt.Sprint(len(before)) {
		t.Errorf("without NoShellRC the session's ~/.bashrc has %q bytes, want %d (%v)", out, len(before), err)
	}
}
