package pipbake_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// TestPackerCancelBeforeSwitch interrupts `packer build` (SIGINT, as
// Ctrl-C) while the agent on the machine has staged its release and waits
// just before switching current, and checks what a user relies on: the
// agent stops without switching, the new release and the staging folder
// are removed, and Packer's output says current still points at the old
// release. The agent waits at that point because execute_command sets
// PIPBAKE_TEST_HOLD_BEFORE_SWITCH (read by the agent for tests only): it
// writes its pid to that file and holds until the file is removed or it
// is stopped; the test removes the file after Packer has exited, so an
// agent that was not stopped would switch then.
func TestPackerCancelBeforeSwitch(t *testing.T) {
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
	root := filepath.Join(work, "machine", "hello")
	staging := filepath.Join(work, "staging")
	hold := filepath.Join(work, "hold")
	tpl := p.WriteFile("cancel.pkr.hcl", fmt.Sprintf(`packer {
  required_plugins {
    pipbake = {
      source  = %q
      version = ">= 0.1.0"
    }
  }
}

variable "release" {
  type = string
}

variable "execute_command" {
  type    = string
  default = "chmod +x {{.Agent}} && {{.Agent}} {{.Args}}"
}

source "null" "machine" {
%s}

build {
  sources = ["source.null.machine"]

  provisioner "pipbake" {
    wheelhouse        = %q
    release           = var.release
    staging_directory = %q
    execute_command   = var.execute_command

    set {
      name = "hello"
      lock = %q
      root = %q
    }
  }
}
`, packertest.PluginSource, srv.CommunicatorHCL(), wh, staging, lockFile, root))
	p.Init(tpl).Must(t)
	p.Build(tpl, "-var", "release=r1").Must(t)
	if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/r1" {
		t.Fatalf("after the first build current -> %q", cur)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pidc := make(chan int, 1)
	go func() {
		defer cancel() // packertest sends packer an interrupt
		for start := time.Now(); time.Since(start) < 5*time.Minute; time.Sleep(20 * time.Millisecond) {
			if b, err := os.ReadFile(hold); err == nil && len(bytes.TrimSpace(b)) > 0 {
				pid, _ := strconv.Atoi(string(bytes.TrimSpace(b)))
				pidc <- pid
				return
			}
		}
	}()
	r := p.RunContext(ctx, "build", "-color=false", "-var", "release=r2",
		"-var", "execute_command=chmod +x {{.Agent}} && PIPBAKE_TEST_HOLD_BEFORE_SWITCH="+hold+" {{.Agent}} {{.Args}}", tpl)
	var pid int
	select {
	case pid = <-pidc:
	default:
		t.Fatalf("the agent never reached its switch:\n%s", r.Output)
	}
	if r.OK() {
		t.Fatalf("an interrupted build succeeded:\n%s", r.Output)
	}
	// A stopped agent exits (it may still be removing its release and
	// the staging folder: Packer does not wait for the provisioner after a
	// cancel); one that was not holds until released, and then switches.
	for i := 0; running(pid) && i < 3000; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	stillRunning := running(pid)
	os.Remove(hold)
	if stillRunning {
		t.Errorf("the agent (pid %d) still runs a minute after packer was interrupted", pid)
		for i := 0; running(pid) && i < 500; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/r1" {
		t.Errorf("the interrupted build switched current to %q", cur)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", "r2")); !os.IsNotExist(err) {
		t.Errorf("the interrupted build's release was left behind: %v", err)
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Errorf("the staging folder was left behind: %v", err)
	}
	// What a cancel leaves is announced before it, since Packer may stop
	// the plugin before its report after the cancel gets through; it
	// never said it was switching.
	if want := "until the switch, cancelling this build leaves every set's current release as it is (hello: current points at releases/r1 (" + root + "/current)): pipbake on the machine then stops, removing release r2 and the staging folder"; !strings.Contains(r.Output, want) {
		t.Errorf("packer's output lacks %q", want)
	}
	if strings.Contains(r.Output, "switch current to release r2") {
		t.Errorf("packer's output says the cancelled build was switching")
	}
	if strings.Contains(r.Output, "pipbake: cancelled") {
		if want := "cancelled before the switch: pipbake on the machine stops without switching and removes release r2; every set's current release is as it was (hello: current still points at releases/r1"; !strings.Contains(r.Output, want) {
			t.Errorf("packer's output lacks %q", want)
		}
	} else {
		t.Logf("the report after the cancel did not get through before Packer shut the plugin down")
	}
	if t.Failed() {
		t.Logf("packer exited %d (%v); its output:\n%s", r.ExitCode, r.Err, r.Output)
	}
}

// running reports whether pid runs (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}
