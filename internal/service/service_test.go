package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

func TestRender(t *testing.T) {
	got := string(Render("api", "/opt/api", &plan.Service{
		Command:     "gunicorn --bind 0.0.0.0:8080 app:app",
		User:        "api",
		Environment: map[string]string{"B": `say "hi" 100%`, "A": "1"},
		After:       []string{"postgresql.service"},
	}))
	for _, want := range []string{
		"After=network-online.target postgresql.service\n",
		"User=api\n",
		"WorkingDirectory=/opt/api/current\n",
		"Environment=\"A=1\"\nEnvironment=\"B=say \\\"hi\\\" 100%%\"\n",
		"ExecStart=/opt/api/current/bin/gunicorn --bind 0.0.0.0:8080 app:app\n",
		"Restart=on-failure\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
	if got := ExecStart("/opt/x/current", "/usr/bin/env python -m x"); got != "/usr/bin/env python -m x" {
		t.Errorf("absolute command changed: %s", got)
	}
}

// TestEnableInSysroot enables a unit in a scratch system root and, as root,
// creates the service user there with the real useradd.
func TestEnableInSysroot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		data, _ := os.ReadFile("/etc/" + f)
		os.WriteFile(filepath.Join(root, "etc", f), data, 0o600)
	}
	svc := &plan.Service{Command: "hello"}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("useradd"); err == nil {
			svc.User = "pipbake-test-svc"
		}
	}
	en, err := Enable(Options{SysRoot: root}, "hello", "/opt/hello", svc)
	if err != nil {
		t.Fatal(err)
	}
	if unit := en.Unit; unit != filepath.Join(root, "etc/systemd/system/hello.service") {
		t.Errorf("unit at %s", en.Unit)
	}
	link, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/hello.service"))
	if err != nil || link != "/etc/systemd/system/hello.service" {
		t.Fatalf("wants link: %q %v", link, err)
	}
	// idempotent
	if _, err := Enable(Options{SysRoot: root}, "hello", "/opt/hello", svc); err != nil {
		t.Fatal(err)
	}
	if svc.User != "" {
		passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
		if !strings.Contains(string(passwd), "pipbake-test-svc:") {
			t.Errorf("user not created in the system root")
		}
		if host, _ := os.ReadFile("/etc/passwd"); strings.Contains(string(host), "pipbake-test-svc:") {
			t.Errorf("user created on the host instead of the system root")
		}
	}
}

// TestRenderNode: a Node set's command finds its programs in
// current/node_modules/.bin, and "node" is the node it was installed for,
// whose folder is on the PATH (the .bin scripts run `env node`).
func TestRenderNode(t *testing.T) {
	progs := ProgramsOf("node", "/opt/node20/bin/node")
	got := string(RenderFor("web", "/opt/web", &plan.Service{Command: "node server.js --port 8080"}, progs))
	for _, want := range []string{
		"ExecStart=/opt/node20/bin/node server.js --port 8080\n",
		`Environment="PATH=/opt/web/current/node_modules/.bin:/opt/node20/bin:/usr/local/sbin:`,
		"WorkingDirectory=/opt/web/current\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
	got = string(RenderFor("web", "/opt/web", &plan.Service{Command: "next start"}, progs))
	if !strings.Contains(got, "ExecStart=/opt/web/current/node_modules/.bin/next start\n") {
		t.Errorf("unit:\n%s", got)
	}
	if py := ProgramsOf("python", "/usr/bin/python3"); py.execStart("/opt/api/current", "api") != "/opt/api/current/bin/api" {
		t.Errorf("python: %s", py.execStart("/opt/api/current", "api"))
	}
}
