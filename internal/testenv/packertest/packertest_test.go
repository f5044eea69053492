package packertest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// TestBuildOverLoopbackSSH is the end-to-end smoke test: the real Packer,
// pipbake's plugin installed with `packer plugins install --path` and
// required by the template, the null builder's SSH communicator connected
// to a loopback sshd, a remote shell provisioner and a local one.
func TestBuildOverLoopbackSSH(t *testing.T) {
	t.Setenv("PIP_INDEX_URL", "http://example.invalid/simple")
	t.Setenv("PYTHONPATH", "/nonexistent")
	t.Setenv("PKR_VAR_greeting", "from-the-caller")

	p := New(t)
	srv := sshtarget.StartT(t, sshtarget.Options{})
	plugin := p.InstallPlugin()
	if want := fmt.Sprintf("packer-plugin-pipbake_v%s_x5.0_", version.Version); !strings.HasPrefix(filepath.Base(plugin), want) {
		t.Errorf("installed plugin %s, want a name starting %s", plugin, want)
	}
	if _, err := os.Stat(plugin + "_SHA256SUM"); err != nil {
		t.Error(err)
	}

	marker := filepath.Join(t.TempDir(), "remote-marker")
	local := filepath.Join(t.TempDir(), "local-marker")
	tpl := p.WriteFile("smoke.pkr.hcl", fmt.Sprintf(`packer {
  required_version = ">= 1.16.0"
  required_plugins {
    pipbake = {
      source  = %q
      version = ">= %s"
    }
  }
}

variable "greeting" {
  type    = string
  default = "hello"
}

source "null" "loopback" {
%s}

build {
  sources = ["source.null.loopback"]

  provisioner "shell" {
    inline = [
      "echo remote-ok $(id -un)",
      "echo \"pip=[$${PIP_INDEX_URL:-}] python=[$${PYTHONPATH:-}]\"",
      "echo ${var.greeting} > %s",
    ]
  }

  provisioner "shell-local" {
    inline = [
      "echo local-ok",
      "echo \"pip=[$${PIP_INDEX_URL:-}] python=[$${PYTHONPATH:-}]\" > %s",
    ]
  }
}
`, PluginSource, version.Version, indent(srv.CommunicatorHCL()), marker, local))

	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	p.Run("plugins", "installed").Must(t)
	p.Validate(tpl).Must(t)
	r := p.Build(tpl).Must(t)

	for _, want := range []string{"remote-ok " + srv.User, "pip=[] python=[]", "local-ok"} {
		if !strings.Contains(r.Output, want) {
			t.Errorf("build output lacks %q", want)
		}
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "hello\n" {
		t.Errorf("remote marker: %q, %v (want the default greeting: PKR_VAR_* must not leak in)", b, err)
	}
	if b, err := os.ReadFile(local); err != nil || string(b) != "pip=[] python=[]\n" {
		t.Errorf("local marker: %q, %v", b, err)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// TestPluginDescribesAsInstalled checks the version plumbing InstallPlugin
// relies on: a dev build installs as -dev, and the describe output matches
// the installed name.
func TestPluginDescribesAsInstalled(t *testing.T) {
	p := New(t, Options{PluginVersion: "9.8.7-dev"})
	plugin := p.InstallPlugin()
	if got := filepath.Base(plugin); !strings.HasPrefix(got, "packer-plugin-pipbake_v9.8.7-dev_x5.0_") {
		t.Errorf("installed as %s", got)
	}
	out, err := exec.Command(plugin, "describe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &d); err != nil || d.Version != "9.8.7-dev" {
		t.Errorf("describe: %s (%v)", out, err)
	}
}

// TestValidateAndFmt covers the helpers meant for examples: a badly
// formatted template fails fmt -check with a diff, an invalid one fails
// validate.
func TestValidateAndFmt(t *testing.T) {
	p := New(t)
	good := p.WriteFile("good/t.pkr.hcl", `source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]
}
`)
	p.ValidateExample(filepath.Dir(good))

	ugly := p.WriteFile("ugly/t.pkr.hcl", "source \"null\" \"x\" {\ncommunicator=\"none\"\n}\nbuild {\n sources = [\"source.null.x\"]\n}\n")
	if r := p.FmtCheck(ugly).Fails(t, "communicator"); r.ExitCode != 3 {
		t.Errorf("fmt -check exit code %d, want 3", r.ExitCode)
	}

	bad := p.WriteFile("bad/t.pkr.hcl", `build {
  sources = ["source.null.missing"]
}
`)
	p.Validate(bad).Fails(t, "Unknown source null.missing")
}
