package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
)

// statementsStep keeps a set's in-toto statements (its SBOM and its
// provenance, about the sha256 of its receipt, naming the plan file the
// set was installed from, when there is one, and the template files;
// unsigned: the key stays on the Packer host, where the pipbake-release
// post-processor makes the same statements from the receipts and signs
// them) in the attestations folder
// beside the receipts folder (/var/lib/pipbake/attestations beside
// /var/lib/pipbake/receipts). It is a commit step, done before any switch:
// a folder that cannot be written fails the install with every current
// as it was, and undoing puts back what the files held.
func statementsStep(receiptsDir string, plan *attest.File, templates []attest.File, log io.Writer) install.Step {
	dir := filepath.Join(filepath.Dir(filepath.Clean(receiptsDir)), filepath.Base(attest.Dir))
	return func(res *install.Result) (func() error, error) {
		set, err := releaseSet(res)
		if err != nil {
			return nil, err
		}
		set.Plan = plan
		sts, err := attest.ReleaseStatements([]attest.Set{set}, templates)
		if err != nil {
			return nil, fmt.Errorf("attestations of set %s: %w", res.Set, err)
		}
		made := false
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("write attestations of set %s: %w", res.Set, err)
			}
			made = true
		}
		var undos []func() error
		undo := func() error {
			var errs []error
			for i := len(undos) - 1; i >= 0; i-- {
				errs = append(errs, undos[i]())
			}
			if made {
				errs = append(errs, os.Remove(dir))
			}
			return errors.Join(errs...)
		}
		for name, data := range attest.StatementBytes(sts) {
			path := filepath.Join(dir, name)
			old, rerr := os.ReadFile(path)
			if err := receipt.WriteFile(dir, name, data); err != nil {
				_ = undo()
				return nil, fmt.Errorf("write attestations of set %s: %w", res.Set, err)
			}
			if rerr == nil {
				undos = append(undos, func() error { return receipt.WriteFile(dir, name, old) })
			} else {
				undos = append(undos, func() error { return os.Remove(path) })
			}
		}
		if log != nil {
			fmt.Fprintf(log, "%s: attestations (SBOM, provenance) in %s\n", res.Set, dir)
		}
		return undo, nil
	}
}

// parseTemplateSums reads --template-sha256 NAME=SHA256 values, in the
// order given.
func parseTemplateSums(vals []string) ([]attest.File, error) {
	var out []attest.File
	for _, v := range vals {
		name, sum, ok := strings.Cut(v, "=")
		if !ok || name == "" || strings.ContainsAny(name, "/\x00\n") || !attest.IsSHA256(sum) {
			return nil, usageErr("install: --template-sha256 %q is not NAME=SHA256 (a file name, 64 lower-case hex digits)", v)
		}
		out = append(out, attest.File{Name: name, SHA256: sum})
	}
	return out, nil
}

// chainSteps runs a, then b; undoing undoes both, in reverse. Either may
// be nil.
func chainSteps(a, b install.Step) install.Step {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	return func(res *install.Result) (func() error, error) {
		ua, err := a(res)
		if err != nil {
			return nil, err
		}
		ub, err := b(res)
		if err != nil {
			if ua != nil {
				_ = ua()
			}
			return nil, err
		}
		return func() error {
			var errs []error
			if ub != nil {
				errs = append(errs, ub())
			}
			if ua != nil {
				errs = append(errs, ua())
			}
			return errors.Join(errs...)
		}, nil
	}
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
