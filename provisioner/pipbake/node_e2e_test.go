package pipbake_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// TestPackerBuildNodeOverSSH bakes a plan that mixes a Node set (the
// Express fixture's app, its tarballs from a local folder) and a Python
// set into a loopback sshd's machine with the real Packer and the null
// builder: node is probed on the machine, the app answers from current,
// the receipts come back and verify; a second build with a tarball that
// does not match the lock fails naming it, every current untouched.
func TestPackerBuildNodeOverSSH(t *testing.T) {
	set := corpustest.Set(t)
	py := corpustest.Python(t)
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	p := packertest.New(t)
	srv := sshtarget.StartT(t, sshtarget.Options{})
	p.InstallPlugin()

	work := t.TempDir()
	app := f.ExpressApp(t, work)
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	six, ok := set.Get("six")
	if !ok {
		t.Fatal("six is not in the corpus")
	}
	os.Symlink(six.Path, filepath.Join(wh, six.File))
	apiLock := filepath.Join(work, "api.txt")
	if err := corpus.WriteRequirements(apiLock, []corpus.Wheel{six}); err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(work, "machine")
	receipts := filepath.Join(work, "receipts")
	tpl := p.WriteFile("node.pkr.hcl", fmt.Sprintf(`packer {
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

variable "tarballs" {
  type = string
}

source "null" "machine" {
%s}

build {
  sources = ["source.null.machine"]

  provisioner "pipbake" {
    wheelhouse     = %q
    tarballs       = var.tarballs
    release        = var.release
    receipt_output = %q

    set {
      name = "web"
      lock = %q
      root = %q
      node = %q
      app  = %q
    }

    set {
      name   = "api"
      lock   = %q
      root   = %q
      python = %q
    }
  }
}
`, packertest.PluginSource, indentHCL(srv.CommunicatorHCL()), wh, receipts, filepath.Join(proj, "package-lock.json"),
		filepath.Join(roots, "web"), f.Runtime.ExecPath, app, apiLock, filepath.Join(roots, "api"), py))
	vars := func(release, tarballs string) []string {
		return []string{"-var", "release=" + release, "-var", "tarballs=" + tarballs}
	}
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	p.Validate(tpl, vars("r1", f.Folder(t))...).Must(t)
	r := p.Build(tpl, vars("r1", f.Folder(t))...).Must(t)
	if !strings.Contains(r.Output, "web: release r1") || !strings.Contains(r.Output, "node "+f.Runtime.Version) {
		t.Errorf("Packer's UI does not report the Node set:\n%s", r.Output)
	}
	cur := filepath.Join(roots, "web", "current")
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the app answered %q", body)
	}
	for _, name := range []string{"web.json", "web.cdx.json", "api.json", "api.cdx.json"} {
		if _, err := os.Stat(filepath.Join(receipts, name)); err != nil {
			t.Errorf("receipt_output: %v", err)
		}
	}
	sbom, _ := os.ReadFile(filepath.Join(receipts, "web.cdx.json"))
	if !strings.Contains(string(sbom), `"pkg:npm/express@`) {
		t.Errorf("the SBOM brought back has no pkg:npm purl of express")
	}
	for _, s := range []string{"web", "api"} {
		rep, err := receipt.Verify(filepath.Join(roots, s, "current"), receipt.Options{})
		if err != nil || !rep.Clean() {
			t.Fatalf("verify %s: %v %+v", s, err, rep)
		}
	}

	// a tampered tarball: the build fails naming it; current stays r1
	bad := filepath.Join(work, "bad")
	os.MkdirAll(bad, 0o755)
	entries, _ := os.ReadDir(f.Folder(t))
	tampered := ""
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(f.Folder(t), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Name(), "body-parser@") {
			data[len(data)/2] ^= 0xff
			tampered = e.Name()
		}
		os.WriteFile(filepath.Join(bad, e.Name()), data, 0o644)
	}
	p.Build(tpl, vars("r2", bad)...).Fails(t, tampered, "integrity", "current release is as it was")
	for _, s := range []string{"web", "api"} {
		if c, _ := os.Readlink(filepath.Join(roots, s, "current")); c != "releases/r1" {
			t.Errorf("after the failed build, %s current -> %s", s, c)
		}
		if _, err := os.Stat(filepath.Join(roots, s, "releases", "r2")); !os.IsNotExist(err) {
			t.Errorf("%s: the failed release was left behind: %v", s, err)
		}
	}
}

func indentHCL(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}
