package bake

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// TestPlanRecords: each bake under pipbake-oci records its plan and sets;
// a set baked twice gets the later bake's plan; a record that is not one
// is refused, naming the file. The agent is then told to name no plan and
// no template file in the sets' statements.
func TestPlanRecords(t *testing.T) {
	dir := t.TempDir()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if err := writePlanRecord(dir, []plan.Set{{Name: "api"}, {Name: "web"}}, a); err != nil {
		t.Fatal(err)
	}
	if err := writePlanRecord(dir, []plan.Set{{Name: "web"}}, b); err != nil {
		t.Fatal(err)
	}
	got, err := PlanRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got["api"] != (attest.File{Name: "plan.json", SHA256: a}) || got["web"] != (attest.File{Name: "plan.json", SHA256: b}) || len(got) != 2 {
		t.Errorf("records %v", got)
	}
	os.WriteFile(filepath.Join(dir, "99999999999999999999-x.json"), []byte(`{"plan":{"name":"plan.json","sha256":"zz"},"sets":["api"]}`), 0o644)
	if _, err := PlanRecords(dir); err == nil || !strings.Contains(err.Error(), "99999999999999999999-x.json") {
		t.Errorf("a bad record: %v", err)
	}
	tpl := []attest.File{{Name: "a.pkr.hcl", SHA256: a}}
	if args := agentAttestArgs(Options{Templates: tpl, ProvenanceDir: dir}); !slices.Equal(args, []string{"--provenance-plan=false"}) {
		t.Errorf("under pipbake-oci the agent gets %v", args)
	}
	if args := agentAttestArgs(Options{Templates: tpl}); !slices.Equal(args, []string{"--template-sha256", "a.pkr.hcl=" + a}) {
		t.Errorf("the agent gets %v", args)
	}
}
