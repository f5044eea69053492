package pipbake_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// TestPackerValidateChecksLocks: `packer validate` reports what is wrong
// with the locks before any machine runs, every problem at once with its
// file and line: an unhashed line, a `>=` pin, a typo'd name (with "did
// you mean"), a pin the wheelhouse has no wheel for and a wheel whose hash
// the lock does not allow. A lock whose pins are all there validates; with
// folder `sources` instead of a wheelhouse, missing wheels do not fail
// validation.
func TestPackerValidateChecksLocks(t *testing.T) {
	p := packertest.New(t, packertest.Options{Quiet: true})
	p.InstallPlugin()

	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	if _, err := hello.Build(wh); err != nil {
		t.Fatal(err)
	}
	b, err := wheelpack.New(wheelpack.Meta{Name: "flask", Version: "3.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	b.Add("flask/__init__.py", 0o644, []byte("# flask\n"))
	flask, err := b.WriteFile(wh)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zeros := " --hash=sha256:" + strings.Repeat("0", 64)
	good := write("good.txt", "flask==3.0.0 --hash=sha256:"+flask.SHA256+"\n")
	badLines := write("lines.txt", "flask==3.0.0\nclick>=8.0"+zeros+"\n")
	badWheels := write("wheels.txt", "flaks==3.0.0"+zeros+"\n"+ // typo
		"itsdangerous==2.1.2"+zeros+"\n"+ // no wheel at all
		"flask==3.0.0"+zeros+"\n") // the wheel there is another one
	helloLock := write("hello.txt", string(hello.Lock))

	tpl := p.WriteFile("validate.pkr.hcl", fmt.Sprintf(`packer {
  required_plugins {
    pipbake = {
      source  = %q
      version = ">= 0.1.0"
    }
  }
}

variable "a" {
  type = string
}

variable "b" {
  type = string
}

variable "wheelhouse" {
  type    = string
  default = ""
}

variable "sources" {
  type    = list(string)
  default = []
}

source "null" "machine" {
  communicator = "none"
}

build {
  sources = ["source.null.machine"]

  provisioner "pipbake" {
    wheelhouse = var.wheelhouse
    sources    = var.sources

    set {
      name = "a"
      lock = var.a
      root = "/opt/a"
    }

    set {
      name = "b"
      lock = var.b
      root = "/opt/b"
    }
  }
}
`, packertest.PluginSource))
	p.Init(tpl).Must(t)

	p.Validate(tpl, "-var", "a="+good, "-var", "b="+helloLock, "-var", "wheelhouse="+wh).Must(t)

	fails(t, p.Validate(tpl, "-var", "a="+badLines, "-var", "b="+badWheels, "-var", "wheelhouse="+wh),
		badLines+`:1: requirement "flask==3.0.0" has no --hash`,
		badLines+`:2: requirement "click>=8.0" is not pinned with ==`,
		badWheels+":1: flaks==3.0.0: no wheel of flaks in "+wh+" (did you mean flask?)",
		badWheels+":2: itsdangerous==2.1.2: no wheel of itsdangerous in "+wh,
		badWheels+":3: flask==3.0.0: "+filepath.Join(wh, flask.File)+" has sha256 "+flask.SHA256+", which the lock does not allow",
	)

	// With sources the same wheel problems are warnings: validate passes
	// (a malformed lock still fails it).
	src := fmt.Sprintf(`sources=["%s"]`, wh)
	p.Validate(tpl, "-var", "a="+good, "-var", "b="+badWheels, "-var", src).Must(t)
	fails(t, p.Validate(tpl, "-var", "a="+badLines, "-var", "b="+helloLock, "-var", src), badLines+":2: ")
}

// fails checks that packer failed with every want in its output, read
// with its line wrapping undone.
func fails(t *testing.T, r packertest.Result, want ...string) {
	t.Helper()
	if r.OK() {
		t.Fatalf("%s succeeded, want a failure:\n%s", strings.Join(r.Args, " "), r.Output)
	}
	out := strings.Join(strings.Fields(r.Output), " ")
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, r.Output)
		}
	}
}
