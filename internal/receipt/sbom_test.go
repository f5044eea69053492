package receipt

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSBOM(t *testing.T) {
	r := &Receipt{Schema: Schema, Set: "api", Release: "r1", Created: time.Unix(1764133200, 0), Pipbake: "test",
		Lock: Lock{SHA256: "abc"},
		Distributions: []Distribution{
			{Name: "Flask", Version: "3.1.3", Wheel: "flask-3.1.3-py3-none-any.whl", SHA256: "11", License: "BSD-3-Clause",
				RequiresDist: []string{"Werkzeug>=3.1", "click>=8.1.3", "asgiref>=3.2; extra == \"async\"", "importlib-metadata>=3.6; python_version < \"3.10\""}},
			{Name: "Werkzeug", Version: "3.1.8", Wheel: "werkzeug-3.1.8-py3-none-any.whl", SHA256: "22"},
		}}
	data, err := r.SBOM()
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat, SpecVersion, SerialNumber string
		Components                           []struct {
			Name, Version string
			PURL          string `json:"purl"`
			Hashes        []struct{ Alg, Content string }
		}
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || len(bom.SerialNumber) != 45 {
		t.Errorf("header: %s %s %s", bom.BOMFormat, bom.SpecVersion, bom.SerialNumber)
	}
	if len(bom.Components) != 2 || bom.Components[0].PURL != "pkg:pypi/flask@3.1.3" || bom.Components[0].Hashes[0].Content != "11" {
		t.Errorf("components: %+v", bom.Components)
	}
	// werkzeug is a dependency of flask; click is not in the set; extras are skipped
	var flaskDeps []string
	for _, d := range bom.Dependencies {
		if d.Ref == "pkg:pypi/flask@3.1.3" {
			flaskDeps = d.DependsOn
		}
	}
	if strings.Join(flaskDeps, ",") != "pkg:pypi/werkzeug@3.1.8" {
		t.Errorf("flask depends on %v", flaskDeps)
	}
	again, _ := r.SBOM()
	if string(again) != string(data) {
		t.Error("SBOM is not deterministic")
	}
}
