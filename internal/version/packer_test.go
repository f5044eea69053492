package version_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// offline returns the command prefix that runs a program in a network
// namespace of its own, with only a loopback interface.
func offline(t *testing.T) []string {
	t.Helper()
	for _, prefix := range [][]string{{"unshare", "-n"}, {"unshare", "-r", "-n"}} {
		if exec.Command(prefix[0], append(prefix[1:], "true")...).Run() == nil {
			return append(prefix, "sh", "-c", `ip link set lo up 2>/dev/null; exec "$0" "$@"`)
		}
	}
	if testenv.Required() {
		t.Fatal("cannot make a network namespace (unshare -n) to run packer init offline")
	}
	t.Skip("cannot make a network namespace (unshare -n)")
	return nil
}

// buildPlugin builds the plugin from this checkout as `go install` or
// `go build` does, with extra ldflags.
func buildPlugin(t *testing.T, ldflags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "packer-plugin-pipbake")
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, "github.com/pipbake/packer-plugin-pipbake/cmd/packer-plugin-pipbake")
	cmd.Env = target.CleanEnv(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// initOffline runs `packer init` on the template with no network but
// loopback.
func initOffline(t *testing.T, p *packertest.Packer, tpl string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(offline(t), p.Bin, "init", tpl)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env = p.Dir, p.Env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestSourceBuildPackerInitOffline: a plugin built from source (no
// version ldflags, as go install and make build make it) describes itself
// as <version>+dev, is installed by `packer plugins install --path` as
// v<version>, and satisfies the examples' `version = ">= 0.1.0"`: `packer
// init` finds it without the network (run with only a loopback
// interface). A -dev prerelease build, which source builds used to be,
// sends packer init to GitHub.
func TestSourceBuildPackerInitOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: packer")
	}
	example, err := filepath.Abs("../../examples/local-ssh/build.pkr.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `version = ">= 0.1.0"`) {
		t.Fatalf("%s no longer asks for >= 0.1.0", example)
	}

	p := packertest.New(t)
	installed := p.InstallPluginBinary(buildPlugin(t, ""))
	if want := "packer-plugin-pipbake_v" + version.Version + "_x5.0_"; !strings.HasPrefix(filepath.Base(installed), want) {
		t.Errorf("installed as %s, want %s...", filepath.Base(installed), want)
	}
	out, err := exec.Command(installed, "describe").Output()
	if err != nil || !strings.Contains(string(out), `"version":"`+version.Version+`+dev"`) {
		t.Errorf("describe: %s %v", out, err)
	}
	tpl := p.WriteFile("local-ssh/build.pkr.hcl", string(src))
	if out, err := initOffline(t, p, tpl); err != nil {
		t.Fatalf("packer init with the source build installed went to the network: %v\n%s", err, out)
	}
	p.Validate(tpl, "-syntax-only").Must(t)

	// The control: a -dev build is not enough for packer init.
	dev := packertest.New(t)
	dev.InstallPluginBinary(buildPlugin(t, "-X github.com/pipbake/packer-plugin-pipbake/internal/version.Prerelease=dev"))
	tpl = dev.WriteFile("local-ssh/build.pkr.hcl", string(src))
	if out, err := initOffline(t, dev, tpl); err == nil || !strings.Contains(out, "github.com") {
		t.Errorf("packer init with only a -dev build: %v\n%s\nwant it to try GitHub and fail offline", err, out)
	}
}
