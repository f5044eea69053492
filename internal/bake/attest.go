package bake

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// planName is the plan's file in the staging folder; the sets'
// provenance names it with its sha256.
const planName = "plan.json"

// GeneratedProvenanceDir is the key of the generated data under which the
// pipbake-oci builder names a folder on the Packer host (Options.
// ProvenanceDir) for the plan records of the bakes it runs.
const GeneratedProvenanceDir = "PipbakeProvenanceDir"

// PlanRecord is what one bake tells the pipbake-oci builder: the plan it
// uploaded, by sha256 (the bytes the agent installed), and its sets.
type PlanRecord struct {
	Plan attest.File `json:"plan"`
	Sets []string    `json:"sets"`
}

// agentAttestArgs are the agent's arguments about its statements: the
// template files they name, beside the plan it hashes itself; with a
// provenance folder (an image of a layer per set), neither: a set's
// statements, in its layer, depend on that set only, and the image's
// provenance names the plan and the templates.
func agentAttestArgs(opts Options) []string {
	if opts.ProvenanceDir != "" {
		return []string{"--provenance-plan=false"}
	}
	var args []string
	for _, f := range opts.Templates {
		args = append(args, "--template-sha256", f.Name+"="+f.SHA256)
	}
	return args
}

// keepStatements writes each set's in-toto statements into
// outDir/attestations: the bytes the agent kept in the image (the same
// receipt, SBOM, plan and template files make the same statements), for
// the pipbake-release post-processor to sign. planSHA256 is the sha256 of
// the plan uploaded.
func keepStatements(opts Options, sets []plan.Set, files map[string][]byte, planSHA256 string) error {
	dir := filepath.Join(opts.ReceiptOutput, path.Base(attest.Dir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("receipt_output: %w", err)
	}
	var planFile *attest.File
	templates := opts.Templates
	if opts.ProvenanceDir != "" { // as the agent was told (agentAttestArgs)
		templates = nil
	} else {
		planFile = &attest.File{Name: planName, SHA256: planSHA256}
	}
	for _, s := range sets {
		rcPath, sbomPath := receiptPaths(s)
		set := attest.Set{Name: s.Name, Receipt: files[rcPath], SBOM: files[sbomPath], Plan: planFile}
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

// writePlanRecord adds a bake's record to the provenance folder dir,
// named so that records sort in the order written.
func writePlanRecord(dir string, sets []plan.Set, planSHA256 string) error {
	rec := PlanRecord{Plan: attest.File{Name: planName, SHA256: planSHA256}}
	for _, s := range sets {
		rec.Sets = append(rec.Sets, s.Name)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%020d-%s.json", time.Now().UnixNano(), planSHA256[:12])
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return fmt.Errorf("record the plan for the image's provenance: %w", err)
	}
	return nil
}

// PlanRecords reads the records of the provenance folder dir and gives
// each set the plan that installed it last (a later bake's record over an
// earlier one's).
func PlanRecords(dir string) (map[string]attest.File, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the bakes' plan records: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := map[string]attest.File{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read the bakes' plan records: %w", err)
		}
		var rec PlanRecord
		if err := json.Unmarshal(data, &rec); err != nil || rec.Plan.Name == "" || !attest.IsSHA256(rec.Plan.SHA256) {
			return nil, fmt.Errorf("plan record %s is not valid (%v)", filepath.Join(dir, n), err)
		}
		for _, s := range rec.Sets {
			out[s] = rec.Plan
		}
	}
	return out, nil
}
