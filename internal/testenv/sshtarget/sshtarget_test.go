package sshtarget

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEcho(t *testing.T) {
	t.Setenv("PIP_INDEX_URL", "http://example.invalid/simple")
	t.Setenv("PYTHONPATH", "/nonexistent")
	s := StartT(t, Options{})
	if s.Host != "127.0.0.1" || s.Port == 0 || s.User == "" {
		t.Fatalf("server = %+v", s)
	}
	out, err := s.Run("echo ok")
	if err != nil {
		t.Fatal(err)
	}
	if out != "ok\n" {
		t.Fatalf("echo ok printed %q", out)
	}
	env, err := s.Run("env")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(env, "\n") {
		if strings.HasPrefix(line, "PIP_") || strings.HasPrefix(line, "PYTHON") {
			t.Errorf("session environment has %s", line)
		}
	}
	if !strings.Contains(env, "SSH_CONNECTION=") || !strings.HasSuffix(strings.TrimSpace(lineOf(env, "SSH_CONNECTION=")), " 127.0.0.1 "+strconv.Itoa(s.Port)) {
		t.Errorf("SSH_CONNECTION not to 127.0.0.1:%d:\n%s", s.Port, env)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", s.Addr())
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func lineOf(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestRunError(t *testing.T) {
	s := StartT(t, Options{})
	out, err := s.Run("echo to-stderr >&2; exit 3")
	var re *RunError
	if !errors.As(err, &re) || re.ExitCode != 3 {
		t.Fatalf("err = %v, want a RunError with exit code 3", err)
	}
	if out != "to-stderr\n" || re.Output != out {
		t.Errorf("output = %q, RunError.Output = %q", out, re.Output)
	}
}

func TestCommunicatorHCL(t *testing.T) {
	s := &Server{Host: "127.0.0.1", Port: 2222, User: "root", PrivateKeyPath: "/tmp/k"}
	got := s.CommunicatorHCL()
	for _, want := range []string{`ssh_host             = "127.0.0.1"`, `ssh_port             = 2222`, `ssh_username         = "root"`, `ssh_private_key_file = "/tmp/k"`} {
		if !strings.Contains(got, want) {
			t.Errorf("CommunicatorHCL() lacks %s:\n%s", want, got)
		}
	}
}
