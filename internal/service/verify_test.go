package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

func TestRenderVerify(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	got := string(RenderVerify("api", "/opt/my api", sum))
	for _, want := range []string{
		"Before=api.service multi-user.target\n",
		"Type=oneshot\nRemainAfterExit=yes\n",
		`ExecStart=/var/lib/pipbake/bin/pipbake verify --root "/opt/my api" --receipt-sha256 ` + sum + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("verify unit lacks %q:\n%s", want, got)
		}
	}
	svc := string(RenderVerified("api", "/opt/api", &plan.Service{Command: "api"}))
	if !strings.Contains(svc, "Requires=pipbake-verify@api.service\n") || !strings.Contains(svc, "After=network-online.target pipbake-verify@api.service\n") {
		t.Errorf("service does not require its verify unit:\n%s", svc)
	}
	if plain := string(Render("api", "/opt/api", &plan.Service{Command: "api"})); strings.Contains(plain, "pipbake-verify") {
		t.Errorf("a service without verify_on_boot requires it:\n%s", plain)
	}
	if out, err := exec.Command("systemd-analyze", "--version").CombinedOutput(); err == nil && len(out) > 0 {
		// systemd's own parser accepts the unit (its ExecStart exists here).
		dir := t.TempDir()
		unit := filepath.Join(dir, VerifyUnit("api"))
		os.WriteFile(unit, []byte(strings.ReplaceAll(got, "/var/lib/pipbake/bin/pipbake", "/bin/true")), 0o644)
		if out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput(); err != nil && strings.Contains(string(out), "pipbake-verify@api.service:") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
}

// TestEnableVerify installs the agent and the unit into a system root,
// links the unit into multi-user.target.wants only for a set without a
// service, and Undo puts everything back.
func TestEnableVerify(t *testing.T) {
	sys := t.TempDir()
	agent := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(agent, []byte("#!/bin/sh\necho agent\n"), 0o755)
	sum := strings.Repeat("0f", 32)
	en, err := EnableVerify(Options{SysRoot: sys}, "worker", "/opt/worker", sum, agent, false)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(sys, AgentPath)
	if data, err := os.ReadFile(bin); err != nil || !strings.Contains(string(data), "echo agent") {
		t.Fatalf("agent: %v", err)
	}
	if st, _ := os.Stat(bin); st.Mode().Perm() != 0o755 {
		t.Errorf("agent mode %v", st.Mode())
	}
	unit := filepath.Join(sys, UnitDir, VerifyUnit("worker"))
	if data, _ := os.ReadFile(unit); !strings.Contains(string(data), sum) {
		t.Errorf("unit:\n%s", data)
	}
	link := filepath.Join(sys, UnitDir, "multi-user.target.wants", VerifyUnit("worker"))
	if to, err := os.Readlink(link); err != nil || to != "/etc/systemd/system/pipbake-verify@worker.service" {
		t.Errorf("wants link: %q %v", to, err)
	}
	if err := en.Undo(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bin, unit, link, filepath.Join(sys, "var"), filepath.Join(sys, "etc")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left after Undo: %v", p, err)
		}
	}
	// With a service, the service requires the unit: no wants link.
	if _, err := EnableVerify(Options{SysRoot: sys}, "api", "/opt/api", sum, agent, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(sys, UnitDir, "multi-user.target.wants", VerifyUnit("api"))); !os.IsNotExist(err) {
		t.Errorf("a set with a service got a wants link: %v", err)
	}
	if _, err := EnableVerify(Options{SysRoot: sys}, "api", "/opt/api", "short", agent, true); err == nil {
		t.Error("a bad receipt sha256 was accepted")
	}
}
