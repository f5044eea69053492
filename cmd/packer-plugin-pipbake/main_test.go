package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// TestDescribe builds the plugin and checks it answers Packer's describe.
func TestDescribe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "packer-plugin-pipbake")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Version    string `json:"version"`
		APIVersion string `json:"api_version"`
		SDK        string `json:"sdk_version"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("describe: %v: %s", err, out)
	}
	if d.Version != version.String() || d.APIVersion != "x5.0" || d.SDK != "0.6.10" {
		t.Errorf("describe = %+v", d)
	}
}

// TestAgentMode checks the plugin binary runs the pipbake CLI when invoked
// as "pipbake" (how the provisioner uploads it) or with "agent".
func TestAgentMode(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "packer-plugin-pipbake")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	agent := filepath.Join(dir, "pipbake")
	if err := os.Link(bin, agent); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*exec.Cmd{exec.Command(agent, "version"), exec.Command(bin, "agent", "version")} {
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "pipbake "+version.String() {
			t.Errorf("%v: %q %v", cmd.Args, out, err)
		}
	}
}
