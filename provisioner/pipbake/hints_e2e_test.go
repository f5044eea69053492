package pipbake_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// TestPackerPermissionHint: an agent that runs as a user without the
// permissions it needs (here: nobody, through setpriv, as root is the only
// user the test's sshd lets in; it cannot read its plan) fails the build
// with the usual fix in the error: execute_command with sudo -E.
func TestPackerPermissionHint(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and setpriv (util-linux) to run the agent as another user")
	}
	p := packertest.New(t)
	srv := sshtarget.StartT(t, sshtarget.Options{NoShellRC: true})
	p.InstallPlugin()

	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	if _, err := hello.Build(wh); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(work, "hello.txt")
	if err := os.WriteFile(lockFile, hello.Lock, 0o644); err != nil {
		t.Fatal(err)
	}
	machine := filepath.Join(work, "machine")
	os.MkdirAll(machine, 0o755) // nobody may enter, not write
	staging := filepath.Join(work, "staging")
	tpl := p.WriteFile("hint.pkr.hcl", fmt.Sprintf(`packer {
  required_plugins {
    pipbake = {
      source  = %q
      version = ">= 0.1.0"
    }
  }
}

source "null" "machine" {
%s}

build {
  sources = ["source.null.machine"]

  provisioner "pipbake" {
    wheelhouse        = %q
    staging_directory = %q
    execute_command   = "chmod +x {{.Agent}} && %s --reuid=65534 --regid=65534 --clear-groups {{.Agent}} {{.Args}}"

    set {
      name = "hello"
      lock = %q
      root = %q
    }
  }
}
`, packertest.PluginSource, srv.CommunicatorHCL(), wh, staging, setpriv, lockFile, filepath.Join(machine, "hello")))
	p.Init(tpl).Must(t)
	r := p.Build(tpl)
	out := strings.Join(strings.Fields(r.Output), " ")
	if r.OK() || !strings.Contains(out, "permission denied") ||
		!strings.Contains(out, `hint: permission denied: the agent runs as the communicator's user; to create the sets' roots and services it usually needs root: execute_command = "chmod +x {{.Agent}} && sudo -E {{.Agent}} {{.Args}}"`) {
		t.Errorf("no hint:\n%s", r.Output)
	}
}
