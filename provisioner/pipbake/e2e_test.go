package pipbake_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// TestPackerBuildOverSSH runs examples/local-ssh with the real Packer and
// the null builder against a loopback sshd: hello (as a service) and Flask
// with its dependencies are baked into roots on that machine.
func TestPackerBuildOverSSH(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes systemd units and creates a service user: needs root")
	}
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	p := packertest.New(t)
	srv := sshtarget.StartT(t, sshtarget.Options{})
	p.InstallPlugin()

	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	if _, err := hello.Build(wh); err != nil {
		t.Fatal(err)
	}
	for _, w := range set.Wheels {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	apiLock := filepath.Join(work, "api.txt")
	if err := corpus.WriteRequirements(apiLock, flask); err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(work, "machine")
	receipts := filepath.Join(work, "receipts")
	user := fmt.Sprintf("pbe2e%d", os.Getpid()%100000)
	t.Cleanup(func() {
		exec.Command("userdel", user).Run()
		os.Remove("/etc/systemd/system/multi-user.target.wants/hello.service")
		os.Remove("/etc/systemd/system/hello.service")
	})
	tpl, err := filepath.Abs("../../examples/local-ssh")
	if err != nil {
		t.Fatal(err)
	}
	vars := func(release, wheelhouse string) []string {
		return []string{
			"-var", "ssh_host=" + srv.Host, "-var", fmt.Sprintf("ssh_port=%d", srv.Port), "-var", "ssh_username=" + srv.User,
			"-var", "ssh_private_key_file=" + srv.PrivateKeyPath, "-var", "wheelhouse=" + wheelhouse,
			"-var", "api_lock=" + apiLock, "-var", "root_prefix=" + roots, "-var", "release=" + release,
			"-var", "service_user=" + user, "-var", "receipt_output=" + receipts,
		}
	}
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	p.Validate(tpl, vars("r1", wh)...).Must(t)
	r := p.Build(tpl, vars("r1", wh)...).Must(t)
	if !strings.Contains(r.Output, "hello: service enabled for the next boot") {
		t.Errorf("agent output did not reach Packer's UI")
	}

	// the apps run from current
	out, err := exec.Command(filepath.Join(roots, "hello/current/bin/hello")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Hello from hello 0.1.0") {
		t.Fatalf("hello: %v %s", err, out)
	}
	out, err = exec.Command(filepath.Join(roots, "api/current/bin/flask"), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Flask 3.1.3") {
		t.Fatalf("flask: %v %s", err, out)
	}
	// receipts came back, and verify passes on the machine
	for _, f := range []string{"hello.json", "hello.cdx.json", "api.json", "api.cdx.json"} {
		if _, err := os.Stat(filepath.Join(receipts, f)); err != nil {
			t.Errorf("receipt_output: %v", err)
		}
	}
	for _, s := range []string{"hello", "api"} {
		rep, err := receipt.Verify(filepath.Join(roots, s, "current"), receipt.Options{})
		if err != nil || !rep.Clean() {
			t.Fatalf("verify %s: %v %+v", s, err, rep)
		}
	}
	// the unit and its wants link, and the user
	unit, err := os.ReadFile("/etc/systemd/system/hello.service")
	if err != nil || !strings.Contains(string(unit), "ExecStart="+filepath.Join(roots, "hello/current/bin/hello")) || !strings.Contains(string(unit), "User="+user) {
		t.Fatalf("unit: %v\n%s", err, unit)
	}
	if link, err := os.Readlink("/etc/systemd/system/multi-user.target.wants/hello.service"); err != nil || link != "/etc/systemd/system/hello.service" {
		t.Fatalf("wants link: %q %v", link, err)
	}
	if err := exec.Command("id", user).Run(); err != nil {
		t.Errorf("service user %s was not created: %v", user, err)
	}

	// a second build with a new release keeps both
	p.Build(tpl, vars("r2", wh)...).Must(t)
	for _, s := range []string{"hello", "api"} {
		if cur, _ := os.Readlink(filepath.Join(roots, s, "current")); cur != "releases/r2" {
			t.Errorf("%s current -> %s", s, cur)
		}
		for _, rel := range []string{"r1", "r2"} {
			if _, err := os.Stat(filepath.Join(roots, s, "releases", rel, receipt.FileName)); err != nil {
				t.Errorf("%s release %s: %v", s, rel, err)
			}
		}
	}

	// a tampered wheel fails the build with the package named, at Prepare
	// now, before the machine is touched (the agent's own check on the
	// machine is internal/install's tests'); current stays r2
	bad := filepath.Join(work, "bad")
	os.MkdirAll(bad, 0o755)
	entries, _ := os.ReadDir(wh)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(wh, e.Name()))
		if strings.HasPrefix(e.Name(), "jinja2-") {
			data[len(data)/2] ^= 0xff
		}
		os.WriteFile(filepath.Join(bad, e.Name()), data, 0o644)
	}
	r = p.Build(tpl, vars("r3", bad)...)
	fails(t, r, "jinja2==3.1.6: "+bad+"/jinja2-3.1.6-py3-none-any.whl has sha256 ", "which the lock does not allow")
	for _, s := range []string{"hello", "api"} {
		if cur, _ := os.Readlink(filepath.Join(roots, s, "current")); cur != "releases/r2" {
			t.Errorf("after the failed build, %s current -> %s", s, cur)
		}
		if _, err := os.Stat(filepath.Join(roots, s, "releases", "r3")); !os.IsNotExist(err) {
			t.Errorf("%s: the failed release was left behind: %v", s, err)
		}
	}
}
