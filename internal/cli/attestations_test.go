//go:build !pipbake_agent && linux

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
)

// TestInstallProvenanceNamesPlan: `install -f PLAN --receipts-dir` keeps
// each set's provenance naming the plan file it read by sha256 (computed
// here from the plan's bytes) and the template files the provisioner
// gives with --template-sha256; a malformed --template-sha256 is refused
// before anything is installed.
func TestInstallProvenanceNamesPlan(t *testing.T) {
	e := newPlanEnv(t)
	plan := e.plan(t, 3, nil)
	src, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	tpl := attest.File{Name: "app.pkr.hcl", SHA256: attest.SHA256Hex([]byte("source {}\n"))}
	for _, bad := range []string{"app.pkr.hcl", "=" + tpl.SHA256, "a/b.pkr.hcl=" + tpl.SHA256, "app.pkr.hcl=" + strings.ToUpper(tpl.SHA256)} {
		if _, code, err := pipbake(t, "install", "-f", plan, "--receipts-dir", e.receipts, "--system-root", e.sysroot, "--template-sha256", bad, "--quiet"); code != 2 || err == nil || !strings.Contains(err.Error(), "--template-sha256") {
			t.Errorf("--template-sha256 %q: exit %d: %v", bad, code, err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.roots, "s1")); !os.IsNotExist(err) {
		t.Fatalf("a refused install touched the root: %v", err)
	}
	if _, code, err := pipbake(t, "install", "-f", plan, "--release", "1", "--receipts-dir", e.receipts, "--system-root", e.sysroot,
		"--template-sha256", tpl.Name+"="+tpl.SHA256, "--quiet"); code != 0 {
		t.Fatalf("install: exit %d: %v", code, err)
	}
	want := attest.File{Name: filepath.Base(plan), SHA256: attest.SHA256Hex(src)}
	for _, set := range []string{"s1", "s2"} {
		data, err := os.ReadFile(filepath.Join(e.dir, "attestations", attest.ProvenanceFile(set)))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := os.ReadFile(filepath.Join(e.receipts, set+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got, templates, err := attest.ReadReleaseProvenance(data, set, rc)
		if err != nil || got == nil || *got != want || len(templates) != 1 || templates[0] != tpl {
			t.Errorf("set %s: plan %v, templates %v (%v); want plan %v, template %v", set, got, templates, err, want, tpl)
		}
	}
	// --provenance-plan=false (pipbake-oci's: a set's layer must depend on
	// that set only): no plan named.
	if _, code, err := pipbake(t, "install", "-f", plan, "--release", "2", "--receipts-dir", e.receipts, "--system-root", e.sysroot,
		"--provenance-plan=false", "--quiet"); code != 0 {
		t.Fatalf("install: exit %d: %v", code, err)
	}
	data, _ := os.ReadFile(filepath.Join(e.dir, "attestations", attest.ProvenanceFile("s1")))
	rc, _ := os.ReadFile(filepath.Join(e.receipts, "s1.json"))
	if got, templates, err := attest.ReadReleaseProvenance(data, "s1", rc); err != nil || got != nil || len(templates) != 0 {
		t.Errorf("--provenance-plan=false: plan %v, templates %v (%v)", got, templates, err)
	}
}
