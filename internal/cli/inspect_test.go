//go:build !pipbake_agent

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/inspect"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestInspectHelp: -h says in one line what inspect does, then its forms
// and an example.
func TestInspectHelp(t *testing.T) {
	help, _, code := captured(t, "inspect", "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	first, _, _ := strings.Cut(help, "\n")
	if !strings.HasPrefix(first, "pipbake inspect: ") {
		t.Errorf("first line %q", first)
	}
	for _, want := range []string{"Usage:", "pipbake inspect IMAGE-REF", "oci-layout:DIR", "AMI-ID", "RELEASE-DIR", "Example:", "-json"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if _, stderr, code := captured(t, "inspect"); code != 2 || !strings.Contains(stderr, "name an image") {
		t.Errorf("nothing to inspect: exit %d %s", code, stderr)
	}
}

// TestInspectCommand: a release folder as text and JSON; errors name
// what could not be read.
func TestInspectCommand(t *testing.T) {
	root := t.TempDir()
	rel := filepath.Join(root, "releases", "r1")
	os.MkdirAll(rel, 0o755)
	rc := receipt.Receipt{Schema: receipt.Schema, Set: "api", Release: "r1", Pipbake: "0.1.0+dev", Installer: "native",
		Lock:          receipt.Lock{Path: "locks/api.txt", SHA256: strings.Repeat("c", 64), Format: "requirements"},
		Distributions: []receipt.Distribution{{Name: "flask", Version: "3.1.3"}, {Name: "werkzeug", Version: "3.1.8"}}}
	data, _ := rc.Marshal()
	os.WriteFile(filepath.Join(rel, receipt.FileName), data, 0o644)
	os.Symlink("releases/r1", filepath.Join(root, "current"))

	stdout, stderr, code := captured(t, "inspect", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	printed := strings.Join(strings.Fields(stdout), " ")
	for _, want := range []string{"release " + root, "set api", "flask 3.1.3", "werkzeug 3.1.8", "lock sha256 " + strings.Repeat("c", 64)} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, code = captured(t, "inspect", "--json", rel)
	var rep inspect.Report
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Release != "r1" || len(rep.Sets) != 1 || len(rep.Sets[0].Distributions) != 2 {
		t.Errorf("--json: exit %d, %v: %s", code, err, stdout)
	}
	// flags after the reference work too
	if stdout, _, code = captured(t, "inspect", rel, "--json"); code != 0 || !strings.HasPrefix(stdout, "{") {
		t.Errorf("reference first: exit %d %s", code, stdout)
	}

	missing := filepath.Join(t.TempDir(), "nope")
	if _, stderr, code := captured(t, "inspect", missing); code != 1 || !strings.Contains(stderr, missing) {
		t.Errorf("a missing folder: exit %d %s", code, stderr)
	}
	if _, stderr, code := captured(t, "inspect", "oci-layout:"+missing); code != 1 || !strings.Contains(stderr, "OCI layout "+missing) {
		t.Errorf("a missing layout: exit %d %s", code, stderr)
	}
	if _, stderr, code := captured(t, "inspect", "Not A Reference!"); code != 1 || !strings.Contains(stderr, `inspect "Not A Reference!"`) {
		t.Errorf("garbage: exit %d %s", code, stderr)
	}
}
