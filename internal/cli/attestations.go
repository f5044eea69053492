package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
)

// writeStatements keeps each installed set's in-toto statements (its SBOM
// and its provenance, about the sha256 of its receipt; unsigned: the key
// stays on the Packer host, where the pipbake-release post-processor
// makes the same statements from the receipts and signs them) in the
// attestations folder beside the receipts folder
// (/var/lib/pipbake/attestations beside /var/lib/pipbake/receipts).
func writeStatements(results []*install.Result, receiptsDir string, log io.Writer) error {
	dir := filepath.Join(filepath.Dir(filepath.Clean(receiptsDir)), filepath.Base(attest.Dir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write attestations: %w", err)
	}
	for _, res := range results {
		set, err := releaseSet(res)
		if err != nil {
			return err
		}
		sts, err := attest.ReleaseStatements([]attest.Set{set})
		if err != nil {
			return fmt.Errorf("attestations of set %s: %w", res.Set, err)
		}
		for name, data := range attest.StatementBytes(sts) {
			if err := receipt.WriteFile(dir, name, data); err != nil {
				return fmt.Errorf("write attestations of set %s: %w", res.Set, err)
			}
		}
		if log != nil {
			fmt.Fprintf(log, "%s: attestations (SBOM, provenance) in %s\n", res.Set, dir)
		}
	}
	return nil
}

// releaseSet reads a result's receipt and SBOM.
func releaseSet(res *install.Result) (attest.Set, error) {
	rc, err := os.ReadFile(filepath.Join(res.Path, receipt.FileName))
	if err != nil {
		return attest.Set{}, fmt.Errorf("set %s: %w", res.Set, err)
	}
	sbom, err := os.ReadFile(filepath.Join(res.Path, receipt.SBOMName))
	if err != nil {
		return attest.Set{}, fmt.Errorf("set %s: %w", res.Set, err)
	}
	return attest.Set{Name: res.Set, Receipt: rc, SBOM: sbom}, nil
}

// enableVerifyOnBoot installs the agent and the set's verify-on-boot unit
// with the sha256 of the release's receipt baked in.
func enableVerifyOnBoot(sysroot string, res *install.Result, hasService bool) (func() error, error) {
	rc, err := os.ReadFile(filepath.Join(res.Path, receipt.FileName))
	if err != nil {
		return nil, fmt.Errorf("verify on boot %s: %w", res.Set, err)
	}
	agent, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("verify on boot %s: find the agent: %w", res.Set, err)
	}
	en, err := service.EnableVerify(service.Options{SysRoot: sysroot}, res.Set, res.Root, attest.SHA256Hex(rc), agent, hasService)
	if err != nil {
		return nil, err
	}
	return en.Undo, nil
}
