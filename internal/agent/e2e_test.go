package agent_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/agent"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// copySource copies the module's files (tracked and new, not ignored)
// into a fresh folder, so a build there writes nothing in the checkout.
func copySource(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		testenv.Missing(t, "git ls-files: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "src")
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, rel)
		st, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the work tree
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSymlink != 0 {
			link, _ := os.Readlink(src)
			os.Symlink(link, to)
			continue
		}
		if !st.Mode().IsRegular() {
			continue
		}
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(f, in)
		in.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// goEnv is the real module and build caches, for a plugin that builds
// its agent under packertest's private HOME.
func goEnv(t *testing.T) []string {
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		testenv.Missing(t, "go env: %v", err)
	}
	f := strings.Fields(string(out))
	return []string{"GOMODCACHE=" + f[0], "GOCACHE=" + f[1]}
}

// bakeHello bakes the hello app over SSH to a loopback sshd with the
// plugin installed in p, and returns Packer's output.
func bakeHello(t *testing.T, p *packertest.Packer) string {
	t.Helper()
	srv := sshtarget.StartT(t, sshtarget.Options{NoShellRC: true})
	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	if _, err := hello.Build(wh); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(work, "hello.txt")
	os.WriteFile(lock, hello.Lock, 0o644)
	root := filepath.Join(work, "machine", "hello")
	tpl := p.WriteFile(fmt.Sprintf("bake-%d.pkr.hcl", time.Now().UnixNano()), fmt.Sprintf(`packer {
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
    wheelhouse = %q

    set {
      name   = "hello"
      lock   = %q
      root   = %q
      python = "/usr/bin/python3"
    }
  }
}
`, packertest.PluginSource, srv.CommunicatorHCL(), wh, lock, root))
	r := p.Build(tpl).Must(t)
	if out, err := exec.Command(filepath.Join(root, "current", "bin", "hello")).CombinedOutput(); err != nil || !strings.Contains(string(out), "Hello from hello") {
		t.Fatalf("the baked app: %v %s", err, out)
	}
	return r.Output
}

var streamLine = regexp.MustCompile(`uploading agent, plan, 1 locks and 1 wheels as one ([0-9.]+) MB stream`)

// uploadedMB is the size of the bundle a bake uploaded (the agent and
// one small wheel).
func uploadedMB(t *testing.T, output string) float64 {
	t.Helper()
	m := streamLine.FindStringSubmatch(output)
	if m == nil {
		t.Fatalf("no upload line in the output:\n%s", output)
	}
	mb, _ := strconv.ParseFloat(m[1], 64)
	return mb
}

// TestMakeBuildPluginUploadsLeanAgent: `make build` (in a copy of the
// checkout) makes a plugin that embeds the lean agents; installed with
// `packer plugins install --path`, it bakes a machine over SSH uploading
// the agent embedded for linux/amd64, under 15 MB with the app's wheel
// (the plugin itself is over 80 MB).
func TestMakeBuildPluginUploadsLeanAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: make build, packer, sshd")
	}
	if _, err := exec.LookPath("make"); err != nil {
		if testenv.Required() {
			t.Fatal("no make")
		}
		t.Skip("no make")
	}
	p := packertest.New(t)
	src := copySource(t)
	cmd := exec.Command("make", "build")
	cmd.Dir = src
	cmd.Env = target.CleanEnv(os.Environ())
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	t.Logf("make build: %v", time.Since(start).Round(time.Second))
	plugin := filepath.Join(src, "dist", "packer-plugin-pipbake")
	st, err := os.Stat(plugin)
	if err != nil {
		t.Fatal(err)
	}
	p.InstallPluginBinary(plugin)
	out := bakeHello(t, p)
	if !strings.Contains(out, "agent: the agent embedded for linux/amd64") {
		t.Errorf("the make build plugin did not upload its embedded agent:\n%s", out)
	}
	if mb := uploadedMB(t, out); mb >= 15 {
		t.Errorf("uploaded %.1f MB, want under 15 (the plugin is %.0f MB)", mb, float64(st.Size())/(1<<20))
	} else {
		t.Logf("uploaded %.1f MB; the plugin is %.0f MB", mb, float64(st.Size())/(1<<20))
	}
}

// TestGoBuildPluginBuildsLeanAgent: a plugin built without the Makefile
// (go build from a checkout, as go install does) embeds no agent: its
// first bake builds a lean agent from its source into the user's cache
// folder and uploads that, under 15 MB; the next bake reuses it. The
// build is the environment's: a plain one records the checkout itself; a
// -trimpath one (GOFLAGS, as make test sets) names it with the link flag
// lean.go gives, which a plain build carries and ignores.
func TestGoBuildPluginBuildsLeanAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: go build, packer, sshd")
	}
	p := packertest.New(t, packertest.Options{Env: goEnv(t)})
	src := copySource(t)
	plugin := filepath.Join(t.TempDir(), "packer-plugin-pipbake")
	cmd := exec.Command("go", "build", "-ldflags", "-X "+agent.ModulePath+"/internal/agent.checkout="+src, "-o", plugin, "./cmd/packer-plugin-pipbake")
	cmd.Dir = src
	cmd.Env = target.CleanEnv(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p.InstallPluginBinary(plugin)
	out := bakeHello(t, p)
	if !strings.Contains(out, "agent: a lean agent for linux/amd64 just built from "+src) {
		t.Errorf("the first bake did not build a lean agent from %s:\n%s", src, out)
	}
	if mb := uploadedMB(t, out); mb >= 15 {
		t.Errorf("uploaded %.1f MB, want under 15", mb)
	}
	cached, _ := filepath.Glob(filepath.Join(p.Home, ".cache", "pipbake", "agents", "*", "pipbake_linux_amd64"))
	if len(cached) != 1 {
		t.Errorf("lean agents cached under the user's cache folder: %q", cached)
	}
	out = bakeHello(t, p)
	if !strings.Contains(out, "agent: the lean agent for linux/amd64 built from this plugin's source") || uploadedMB(t, out) >= 15 {
		t.Errorf("the second bake did not reuse the cached lean agent:\n%s", out)
	}
}
