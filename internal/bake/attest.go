package bake

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// planName is the plan's file in the staging folder; the sets'
// provenance names it with its sha256.
const planName = "plan.json"

// templateArgs are the agent's --template-sha256 arguments: the template
// files its statements name beside the plan it hashes itself.
func templateArgs(templates []attest.File) []string {
	var args []string
	for _, f := range templates {
		args = append(args, "--template-sha256", f.Name+"="+f.SHA256)
	}
	return args
}

// keepStatements writes each set's in-toto statements into
// outDir/attestations: the bytes the agent kept in the image (the same
// receipt, SBOM, plan and template files make the same statements), for
// the pipbake-release post-processor to sign. planSHA256 is the sha256 of
// the plan uploaded.
func keepStatements(outDir string, sets []plan.Set, files map[string][]byte, planSHA256 string, templates []attest.File) error {
	dir := filepath.Join(outDir, path.Base(attest.Dir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("receipt_output: %w", err)
	}
	for _, s := range sets {
		rcPath, sbomPath := receiptPaths(s)
		set := attest.Set{Name: s.Name, Receipt: files[rcPath], SBOM: files[sbomPath], Plan: &attest.File{Name: planName, SHA256: planSHA256}}
		sts, err := attest.ReleaseStatements([]attest.Set{set}, templates)
		if err != nil {
			return fmt.Errorf("receipt_output: the statements of set %q: %w", s.Name, err)
		}
		for n, data := range attest.StatementBytes(sts) {
			if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
				return fmt.Errorf("receipt_output: %w", err)
			}
		}
	}
	return nil
}
