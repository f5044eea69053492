package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
)

const pycTemplate = `
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
variable "bytecode_cache" { type = string }
variable "wheelhouse" { type = string }
variable "api_lock" { type = string }
variable "receipts" { type = string }

source "pipbake-oci" "app" {
  base              = var.base
  output_oci_layout = var.layout
  cache_dir         = var.cache_dir
  build_dir         = var.build_dir
  bytecode_cache    = var.bytecode_cache
  release_cache     = false
  source_date_epoch = 1700000000
}

build {
  sources = ["source.pipbake-oci.app"]

  provisioner "pipbake" {
    wheelhouse     = var.wheelhouse
    release        = "r1"
    receipt_output = var.receipts

    set {
      name   = "api"
      lock   = var.api_lock
      root   = "/opt/api"
      python = "/usr/bin/python3"
    }
  }
}
`

// TestPackerBuildOCIBytecodeCache: the builder's bytecode cache on the
// build host serves the pipbake provisioner: the first build compiles
// the Flask set's modules and keeps them there, a second build of the
// same lock (the release cache off, so the set is installed again)
// compiles none (the provisioner's closing line counts them: they are
// not in the receipt), and the two images hold the same .pyc bytes and
// the same receipt, to the image digest.
func TestPackerBuildOCIBytecodeCache(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	base := ociimage.LayoutPrefix + basetest.Layout(t)
	p := packertest.New(t)
	p.InstallPlugin()
	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	apiLock := filepath.Join(work, "api.txt")
	if err := corpus.WriteRequirements(apiLock, flask); err != nil {
		t.Fatal(err)
	}
	hostCache := filepath.Join(work, "bytecode")
	tpl := p.WriteFile("pyc.pkr.hcl", pycTemplate)
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	counted := regexp.MustCompile(`pipbake: api: release r1, \d+ distributions, Python [^;\n]+; bytecode: (\d+) \.pyc from the cache, (\d+) compiled`)
	type counts struct{ Compiled, Cached int }
	build := func(name string) (counts, map[string][]byte, string, []byte, string) {
		t.Helper()
		layout := filepath.Join(work, name, "layout")
		receipts := filepath.Join(work, name, "receipts")
		r := p.Build(tpl, "-var", "base="+base, "-var", "layout="+layout, "-var", "cache_dir="+filepath.Join(work, "cache"),
			"-var", "build_dir="+filepath.Join(work, "builds"), "-var", "bytecode_cache="+hostCache,
			"-var", "wheelhouse="+wh, "-var", "api_lock="+apiLock, "-var", "receipts="+receipts).Must(t)
		data, err := os.ReadFile(filepath.Join(receipts, "api.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rc map[string]any
		if err := json.Unmarshal(data, &rc); err != nil {
			t.Fatal(err)
		}
		if _, ok := rc["bytecode"]; ok {
			t.Errorf("%s: the receipt counts the bytecode", name)
		}
		m := counted.FindStringSubmatch(r.Output)
		if m == nil {
			t.Fatalf("%s: the provisioner does not count the bytecode:\n%s", name, grep(r.Output, "pipbake: api"))
		}
		var n counts
		n.Cached, _ = strconv.Atoi(m[1])
		n.Compiled, _ = strconv.Atoi(m[2])
		img, err := ociimage.Open(ociimage.LayoutPrefix + layout)
		if err != nil {
			t.Fatal(err)
		}
		digest, err := img.Image.Digest()
		if err != nil {
			t.Fatal(err)
		}
		// every .pyc of the release in the image
		root := filepath.Join(unpackImage(t, img.Image), "opt", "api", "releases", "r1")
		pycs := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".pyc") {
				data, rerr := os.ReadFile(p)
				if rerr != nil {
					t.Fatal(rerr)
				}
				pycs[strings.TrimPrefix(p, root)] = data
			}
			return err
		})
		return n, pycs, r.Output, data, digest.String()
	}
	rc1, pycs1, out1, receipt1, digest1 := build("cold")
	if rc1.Compiled == 0 || rc1.Cached != 0 {
		t.Fatalf("cold build: %+v\n%s", rc1, grep(out1, "bytecode"))
	}
	if !strings.Contains(out1, "bytecode cache "+hostCache) {
		t.Errorf("the provisioner did not use the builder's bytecode cache:\n%s", grep(out1, "bytecode"))
	}
	u, err := pyccache.Measure(hostCache)
	if err != nil || u.Entries != rc1.Compiled {
		t.Fatalf("the build host's cache holds %d entries (%v) after compiling %d", u.Entries, err, rc1.Compiled)
	}
	rc2, pycs2, out2, receipt2, digest2 := build("warm")
	if rc2.Compiled != 0 || rc2.Cached != rc1.Compiled {
		t.Fatalf("warm build: %+v, want 0 compiled, %d cached\n%s", rc2, rc1.Compiled, grep(out2, "bytecode"))
	}
	if len(pycs1) != rc1.Compiled || len(pycs2) != len(pycs1) {
		t.Fatalf("%d and %d .pyc files in the images, %d compiled", len(pycs1), len(pycs2), rc1.Compiled)
	}
	for p, data := range pycs1 {
		if !bytes.Equal(pycs2[p], data) {
			t.Errorf("%s differs between the cold and the warm build", p)
		}
	}
	if !bytes.Equal(receipt1, receipt2) {
		t.Errorf("the cold and the warm build's receipts differ:\n%s\n---\n%s", receipt1, receipt2)
	}
	if digest1 != digest2 {
		t.Errorf("the cold and the warm build give images %s and %s", digest1, digest2)
	}
}
