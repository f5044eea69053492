package plan

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestVerifyOnBoot: verify_on_boot reads from HCL and from the JSON form
// the provisioner uploads, and is off by default.
func TestVerifyOnBoot(t *testing.T) {
	src := `
set {
  name           = "api"
  lock           = "api.txt"
  root           = "/opt/api"
  verify_on_boot = true
}
set {
  name = "worker"
  lock = "worker.txt"
  root = "/opt/worker"
}
`
	p, err := Parse("/plans/pipbake.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Sets[0].VerifyOnBoot || p.Sets[1].VerifyOnBoot {
		t.Fatalf("verify_on_boot: %v %v", p.Sets[0].VerifyOnBoot, p.Sets[1].VerifyOnBoot)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), `"verify_on_boot":true`) != 1 {
		t.Errorf("JSON form: %s", data)
	}
	back, err := Parse("/plans/plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Sets[0].VerifyOnBoot || back.Sets[1].VerifyOnBoot {
		t.Errorf("JSON round trip lost verify_on_boot")
	}
	if _, err := Parse("/plans/bad.hcl", []byte(strings.Replace(src, "verify_on_boot = true", `verify_on_boot = "yes please"`, 1))); err == nil {
		t.Error("a non-boolean verify_on_boot was accepted")
	}
}
