package oci_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
)

const nodeTemplate = `
packer {
  required_plugins {
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.1.0"
    }
  }
}

variable "base" { type = string }
variable "layout" { type = string }
variable "cache_dir" { type = string }
variable "build_dir" { type = string }
variable "tarballs" { type = string }
variable "lock" { type = string }
variable "app" { type = string }

source "pipbake-oci" "web" {
  base              = var.base
  output_oci_layout = var.layout
  cache_dir         = var.cache_dir
  build_dir         = var.build_dir
  family            = "web"
  source_date_epoch = 1700000000
  entrypoint        = ["/usr/bin/node", "/opt/web/current/server.js"]
}

build {
  sources = ["source.pipbake-oci.web"]

  provisioner "pipbake" {
    tarballs = var.tarballs
    release  = "r1"

    set {
      name = "web"
      lock = var.lock
      root = "/opt/web"
      node = "/usr/bin/node"
      app  = var.app

      service {
        command = "node server.js"
      }
    }
  }
}
`

// TestPackerBuildOCINode bakes the Express fixture's app as a Node set
// into a Debian base with Debian's nodejs with the real Packer: node is
// probed in the image (not the Packer host's), the set gets its own
// layer, the labels list it, and the app answers a request on loopback
// when run from the unpacked image with the image's node; the release
// verifies there. Built again, the image is the same (the release comes
// from the release cache).
func TestPackerBuildOCINode(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	baseLayout := basetest.NodeLayout(t)
	p := packertest.New(t)
	p.InstallPlugin()

	work := t.TempDir()
	app := f.ExpressApp(t, work)
	cache := filepath.Join(work, "cache")
	tpl := p.WriteFile("node.pkr.hcl", nodeTemplate)
	vars := func(layout string) []string {
		return []string{"-var", "base=oci-layout:" + baseLayout, "-var", "layout=" + layout, "-var", "cache_dir=" + cache,
			"-var", "build_dir=" + filepath.Join(work, "builds"), "-var", "tarballs=" + f.Folder(t),
			"-var", "lock=" + filepath.Join(proj, "package-lock.json"), "-var", "app=" + app}
	}
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	out1 := filepath.Join(work, "out1")
	start := time.Now()
	r := p.Build(tpl, vars(out1)...).Must(t)
	t.Logf("first build: %v", time.Since(start))
	if !strings.Contains(r.Output, "web: release r1") {
		t.Errorf("Packer's UI does not report the set:\n%s", grep(r.Output, "pipbake:"))
	}
	b, err := ociimage.Open(ociimage.LayoutPrefix + out1)
	if err != nil {
		t.Fatal(err)
	}
	img := b.Image
	m, _ := img.Manifest()
	if len(m.Layers) < 2 {
		t.Fatalf("%d layers", len(m.Layers))
	}
	names := layerEntries(t, img)
	last := names[len(names)-1]
	for _, n := range []string{"opt/web/current", "opt/web/releases/r1/node_modules/express/package.json", "opt/web/releases/r1/server.js",
		"var/lib/pipbake/receipts/web.json", "var/lib/pipbake/receipts/web.cdx.json", "etc/systemd/system/web.service"} {
		if !last[n] {
			t.Errorf("the set's layer lacks %s", n)
		}
	}
	cf, _ := img.ConfigFile()
	if sets := cf.Config.Labels[ociimage.LabelSets]; sets != "web@1.0.0" { // the app's version
		t.Errorf("label %s = %q", ociimage.LabelSets, sets)
	}

	root := unpackImage(t, img)
	rc, err := receipt.Read(filepath.Join(root, "opt/web/current"))
	if err != nil {
		t.Fatal(err)
	}
	// Debian's nodejs (bookworm: 18.x), not this host's node (20.x)
	if rc.Ecosystem != "node" || rc.Interpreter.Path != "/usr/bin/node" || rc.Interpreter.Version == f.Runtime.Version {
		t.Errorf("receipt: ecosystem %q runtime %+v (the host's node is %s)", rc.Ecosystem, rc.Interpreter, f.Runtime.Version)
	}
	if rep, err := receipt.Verify(filepath.Join(root, "opt/web/current"), receipt.Options{}); err != nil || !rep.Clean() {
		t.Fatalf("verify in the image: %v %+v", err, rep)
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/web.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/node server.js\n") {
		t.Errorf("unit:\n%s", unit)
	}
	if body := serveInRoot(t, root, "cd /opt/web/current && exec /usr/bin/node server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the app in the image answered %q", body)
	}

	// Again: the same image, the release restored from the cache.
	out2 := filepath.Join(work, "out2")
	r2 := p.Build(tpl, vars(out2)...).Must(t)
	b2, err := ociimage.Open(ociimage.LayoutPrefix + out2)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Digest != b.Digest {
		t.Errorf("rebuild changed the digest: %s vs %s", b.Digest, b2.Digest)
	}
	if !strings.Contains(r2.Output, "from the release cache") {
		t.Errorf("the rebuild did not restore the Node set from the release cache:\n%s", grep(r2.Output, "pipbake:"))
	}
}

// serveInRoot runs command in a chroot of root (which shares this
// machine's loopback), waits for the app's "listening on PORT" line and
// returns the body of GET / on that port; the app is stopped after.
func serveInRoot(t *testing.T, root, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	sess := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: chroot.DefaultEnv}}
	done := make(chan error, 1)
	go func() {
		_, err := sess.Run(ctx, command, nil, pw, &stderr)
		pw.CloseWithError(fmt.Errorf("the app ended: %v", err))
		done <- err
	}()
	defer func() {
		cancel()
		go io.Copy(io.Discard, pr)
		<-done
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("the app printed %q: %v\n%s", line, err, stderr.String())
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("the app printed %q", line)
	}
	return npmtest.Get127(t, "http://127.0.0.1:"+port+"/")
}
