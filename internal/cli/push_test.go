//go:build !pipbake_agent && linux

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/push"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

func TestHostCommandDispatch(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--root", "/opt/api"}, false},
		{[]string{"--root", "/opt/api", "--host", "web-1"}, true},
		{[]string{"-host=web-1"}, true},
		{[]string{"--hosts-file", "hosts"}, true},
		{[]string{"--root", "host"}, false},
		{[]string{"--", "--host"}, false},
	} {
		if got := IsHostCommand(tc.args); got != tc.want {
			t.Errorf("%v: %v", tc.args, got)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"push", "--host", "h"}, "-f pipbake.hcl is required"},
		{[]string{"releases", "--host", "h"}, "-f pipbake.hcl or --root is required"},
		{[]string{"rollback", "--host", "h", "--root", "rel"}, "--root rel must be an absolute path"},
		{[]string{"push", "-f", "../../examples/local-ssh/pipbake.hcl", "--host", "h"}, "read plan"},
	} {
		_, code, err := pipbake(t, tc.args...)
		if code == 0 || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, %v; want %q", tc.args, code, err, tc.want)
		}
	}
}

func TestReadHostsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(p, []byte("# fleet\nweb-1\n  deploy@web-2:2222  # canary\n\n[::1]:22\n"), 0o644)
	hosts, err := readHostsFile(p)
	if err != nil || strings.Join(hosts, ",") != "web-1,deploy@web-2:2222,[::1]:22" {
		t.Fatalf("%q %v", hosts, err)
	}
	os.WriteFile(p, []byte("web-1\n-oProxyCommand=evil\n"), 0o644)
	if _, err := readHostsFile(p); err == nil || !strings.Contains(err.Error(), p+":2:") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}

// TestPushCommandLine runs the pipbake binary against one chrooted host:
// a dry run, a push with --json, sudo with a password read from standard
// input by a user who needs it (never shown, never in a receipt),
// releases and rollback.
func TestPushCommandLine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creates a user for sudo: needs root")
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	bin := filepath.Join(dir, "pipbake")
	agentBin := filepath.Join(dir, "agent")
	for _, b := range [][]string{{"-o", bin}, {"-tags", "pipbake_agent", "-o", agentBin}} {
		if out, err := exec.Command("go", append(append([]string{"build"}, b...), "../../cmd/pipbake")...).CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	root := basetest.MachineRoot(t)

	// a user on this host (sshd looks it up here) and in the machine, who
	// needs a password for sudo there
	deploy := fmt.Sprintf("pbpush%d", os.Getpid()%100000)
	const password = "s3cret-Sudo-pw"
	// "*": no password, but not locked (sshd refuses locked accounts)
	if out, err := exec.Command("useradd", "-M", "-s", "/bin/sh", "-p", "*", deploy).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", deploy).Run() })
	u, err := user.Lookup(deploy)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"chroot", root, "useradd", "-m", "-u", u.Uid, "-s", "/bin/sh", deploy},
		{"chroot", root, "sh", "-c", "echo '" + deploy + ":" + password + "' | chpasswd"},
		{"chroot", root, "sh", "-c", "echo '" + deploy + " ALL=(ALL) ALL' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	srv := sshtarget.StartT(t, sshtarget.Options{Chroot: root, Config: []string{"AllowUsers " + deploy}})
	// the other user reads the same authorized_keys
	os.Chmod(srv.Dir, 0o755)
	os.Chmod(filepath.Join(srv.Dir, "authorized_keys"), 0o644)

	wheels := filepath.Join(dir, "wheels")
	os.MkdirAll(wheels, 0o755)
	if _, err := hello.Build(wheels); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "requirements.txt"), hello.Lock, 0o644)
	planFile := filepath.Join(dir, "pipbake.hcl")
	os.WriteFile(planFile, []byte(`
wheelhouse = "wheels"
set {
  name   = "hello"
  lock   = "requirements.txt"
  root   = "/opt/hello"
  python = "/usr/bin/python3"
  service {
    command = "hello"
  }
  health {
    command = "/opt/hello/current/bin/hello"
    timeout = "5s"
  }
}
`), 0o644)
	sshConfig := filepath.Join(dir, "ssh_config")
	os.WriteFile(sshConfig, []byte(fmt.Sprintf("Host web-1 admin-1\n    HostName 127.0.0.1\n    Port %d\n    IdentityFile %s\n    UserKnownHostsFile %s\n    GlobalKnownHostsFile none\n    IdentityAgent none\nHost web-1\n    User root\nHost admin-1\n    User %s\n",
		srv.Port, srv.PrivateKeyPath, srv.KnownHostsPath, deploy)), 0o644)

	pipbake := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	common := []string{"-f", planFile, "--ssh-config", sshConfig, "--agent", agentBin}
	cur := func() string {
		to, _ := os.Readlink(filepath.Join(root, "opt/hello/current"))
		return to
	}

	// a dry run changes nothing
	stdout, stderr, code := pipbake("", append([]string{"push", "--host", "web-1", "--dry-run", "--json"}, common...)...)
	var rep push.Report
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Hosts[0].Status != push.WouldPush || rep.Hosts[0].Preview.Wheels != 1 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/hello")); !os.IsNotExist(err) {
		t.Fatalf("the dry run installed something: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "tmp/pipbake-push-*")); len(left) > 0 {
		t.Errorf("the dry run left %v", left)
	}

	// a push as root
	stdout, stderr, code = pipbake("", append([]string{"push", "--host", "web-1", "--release", "1"}, common...)...)
	if code != 0 || !strings.Contains(stdout, "web-1  updated  hello=1  systemd not running: did not restart hello.service") || cur() != "releases/1" {
		t.Fatalf("push: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "[web-1] pipbake: hello: health check passed") {
		t.Errorf("progress:\n%s", stderr)
	}

	// sudo: a wrong password fails, naming the host, and changes nothing
	stdout, stderr, code = pipbake("wrong-password\n", append([]string{"push", "--host", "admin-1", "--release", "2", "--sudo", "--sudo-password-stdin"}, common...)...)
	if code == 0 || !strings.Contains(stderr, "push failed on 1 of 1 hosts: admin-1") || !strings.Contains(stderr, "incorrect password") || cur() != "releases/1" {
		t.Fatalf("wrong password: exit %d\n%s\n%s", code, stdout, stderr)
	}
	leaks := stdout + stderr
	// the right one installs
	stdout, stderr, code = pipbake(password+"\n", append([]string{"push", "--host", "admin-1", "--release", "2", "--sudo", "--sudo-password-stdin"}, common...)...)
	if code != 0 || !strings.Contains(stdout, "admin-1  updated  hello=2") || cur() != "releases/2" {
		t.Fatalf("sudo push: exit %d\n%s\n%s", code, stdout, stderr)
	}
	leaks += stdout + stderr
	// without a password sudo -n refuses
	_, stderr, code = pipbake("", append([]string{"push", "--host", "admin-1", "--release", "3", "--sudo"}, common...)...)
	if code == 0 || !strings.Contains(stderr, "sudo") || cur() != "releases/2" {
		t.Fatalf("sudo -n: exit %d\n%s", code, stderr)
	}
	// the password is nowhere: output, receipts, the machine's pipbake files
	leaks += stdout + stderr
	filepath.WalkDir(filepath.Join(root, "opt/hello"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			data, _ := os.ReadFile(p)
			leaks += string(data)
		}
		return nil
	})
	for _, d := range []string{"var/lib/pipbake/receipts", "etc/systemd/system"} {
		files, _ := filepath.Glob(filepath.Join(root, d, "*"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			leaks += string(data)
		}
	}
	if strings.Contains(leaks, password) {
		t.Errorf("the sudo password leaked")
	}

	// releases and rollback over SSH
	stdout, stderr, code = pipbake("", "releases", "--host", "web-1", "--ssh-config", sshConfig, "--agent", agentBin, "--root", "/opt/hello")
	if code != 0 || !strings.Contains(stdout, "web-1  hello     1") || !strings.Contains(stdout, "web-1  hello  *  2") {
		t.Fatalf("releases: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = pipbake(password+"\n", append([]string{"rollback", "--host", "admin-1", "--sudo", "--sudo-password-stdin"}, common...)...)
	if code != 0 || !strings.Contains(stdout, "admin-1  switched  hello=1") || cur() != "releases/1" {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("the sudo password leaked")
	}
}
