//go:build !pipbake_agent

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
)

// TestDemoOCI runs the built `pipbake demo --oci` twice: it bakes hello
// into an OCI layout on the Debian base, runs it from the image, and the
// second run gives the same image digest.
func TestDemoOCI(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	basetest.Layout(t) // skips (or fails in CI) without debootstrap and root
	bin := filepath.Join(t.TempDir(), "pipbake")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/pipbake/packer-plugin-pipbake/cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := t.TempDir()
	run := func() (string, string) {
		cmd := exec.Command(bin, "demo", "--oci", "--out", out, "--cache-dir", filepath.Join(out, "cache"))
		cmd.Env = target.CleanEnv(os.Environ())
		printed, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pipbake demo --oci: %v\n%s", err, printed)
		}
		b, err := ociimage.Open(ociimage.LayoutPrefix + filepath.Join(out, "hello-oci", "image"))
		if err != nil {
			t.Fatal(err)
		}
		return string(printed), b.Digest.String()
	}
	printed, d1 := run()
	if !strings.Contains(printed, "Hello from hello 0.1.0 on Python 3.11") || !strings.Contains(printed, "sys.prefix: /opt/hello/releases/0.1.0") {
		t.Fatalf("the app did not run from the image:\n%s", printed)
	}
	if _, d2 := run(); d1 != d2 {
		t.Fatalf("demo --oci twice: %s then %s", d1, d2)
	}
}
