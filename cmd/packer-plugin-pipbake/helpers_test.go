package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// repoRoot is the module's root, from this package's folder.
const repoRoot = "../.."

// shared holds what several tests build once per run; TestMain removes it.
var shared struct {
	dir string

	pluginOnce sync.Once
	plugin     string
	pluginErr  error

	sdcOnce sync.Once
	sdc     string
	sdcErr  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipbake-plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	shared.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginBinary builds this package once per run as
// <dir>/packer-plugin-pipbake (the name packer-sdc plugin-check wants) and
// returns its path.
func pluginBinary(t *testing.T) string {
	t.Helper()
	shared.pluginOnce.Do(func() {
		dir := filepath.Join(shared.dir, "plugin")
		bin := filepath.Join(dir, "packer-plugin-pipbake")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Env = target.CleanEnv(os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			shared.pluginErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		shared.plugin = bin
	})
	if shared.pluginErr != nil {
		t.Fatal(shared.pluginErr)
	}
	return shared.plugin
}

// sdcBinary builds packer-sdc, the main module's tool, at the version
// go.mod pins, and returns its path. (`go tool packer-sdc` would do, but
// plugin-check must run in the plugin's folder, outside the module.)
func sdcBinary(t *testing.T) string {
	t.Helper()
	shared.sdcOnce.Do(func() {
		bin := filepath.Join(shared.dir, "sdc", "packer-sdc")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc")
		cmd.Dir = repoRoot
		cmd.Env = target.CleanEnv(os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			shared.sdcErr = fmt.Errorf("go build packer-sdc: %v\n%s", err, out)
			return
		}
		shared.sdc = bin
	})
	if shared.sdcErr != nil {
		t.Fatal(shared.sdcErr)
	}
	return shared.sdc
}

// description is a plugin's answer to `describe`.
type description struct {
	Version        string   `json:"version"`
	SDKVersion     string   `json:"sdk_version"`
	APIVersion     string   `json:"api_version"`
	Builders       []string `json:"builders"`
	PostProcessors []string `json:"post_processors"`
	Provisioners   []string `json:"provisioners"`
	Datasources    []string `json:"datasources"`
}

func describe(t *testing.T, bin string) description {
	t.Helper()
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		t.Fatalf("%s describe: %v", bin, err)
	}
	var d description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%s describe: %v: %s", bin, err, out)
	}
	return d
}

// pluginCheck runs `packer-sdc plugin-check` on bin. plugin-check wants
// the binary's name, starting with packer-plugin-, as its argument, so it
// runs in the binary's folder.
func pluginCheck(t *testing.T, bin string) {
	t.Helper()
	cmd := exec.Command(sdcBinary(t), "plugin-check", filepath.Base(bin))
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = target.CleanEnv(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packer-sdc plugin-check %s: %v\n%s", filepath.Base(bin), err, out)
	}
	t.Logf("packer-sdc plugin-check %s: ok %s", filepath.Base(bin), strings.TrimSpace(string(out)))
}
