package oci

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
)

// stepProvision runs the template's provisioners through the
// communicator (as Packer's common provisioning step does, without the
// download machinery that step's package brings in).
type stepProvision struct{}

func (s *stepProvision) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	hook := state.Get("hook").(packersdk.Hook)
	ui := state.Get("ui").(packersdk.Ui)
	comm := state.Get("communicator").(packersdk.Communicator)
	b := state.Get(stateBuild).(*build)
	// The pipbake provisioner records here which plan installed which
	// sets, for the image's provenance (step_attest.go).
	if err := os.MkdirAll(provenanceDir(b), 0o755); err != nil {
		return halt(state, fmt.Errorf("provisioning: %w", err))
	}
	data := map[string]interface{}{
		"ID":                "pipbake-oci",
		"ConnType":          "chroot",
		"Host":              "",
		"Port":              0,
		"User":              "root",
		"Password":          "",
		"SSHPublicKey":      "",
		"SSHPrivateKey":     "",
		"WinRMPassword":     "",
		"PackerRunUUID":     os.Getenv("PACKER_RUN_UUID"),
		"PackerHTTPAddr":    "",
		"PackerHTTPIP":      "",
		"PackerHTTPPort":    "",
		"SourceImageDigest": b.base.Digest.String(),
		// the pipbake provisioner's host bytecode cache, unless it names one
		bake.GeneratedBytecodeCache: b.cfg.BytecodeCache,
		bake.GeneratedProvenanceDir: provenanceDir(b),
	}
	if err := hook.Run(ctx, packersdk.HookProvision, ui, comm, data); err != nil {
		return halt(state, fmt.Errorf("provisioning: %w", err))
	}
	return multistep.ActionContinue
}

func (s *stepProvision) Cleanup(multistep.StateBag) {}
