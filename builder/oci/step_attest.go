package oci

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/ociattest"
	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// prepareAttest checks the attestation settings: the signing key reads
// (with COSIGN_PASSWORD when encrypted) and the template files exist.
func prepareAttest(c *Config) error {
	if c.SigningKey != "" {
		if abs, err := filepath.Abs(c.SigningKey); err == nil {
			c.SigningKey = abs
		}
		if _, err := loadSigningKey(c.SigningKey); err != nil {
			return fmt.Errorf("signing_key: %w", err)
		}
	}
	return attest.CheckTemplateFiles(c.TemplateFiles)
}

func loadSigningKey(path string) (*ecdsa.PrivateKey, error) {
	return attest.LoadPrivateKey(path, []byte(os.Getenv(attest.PasswordEnv)))
}

// provenanceDir is the build's folder for the pipbake provisioner's plan
// records (bake.GeneratedProvenanceDir): which plan installed which sets,
// by sha256. The provisioner keeps that out of the sets' statements in the
// image, so that a set's layer depends on that set only; the image's
// provenance names it.
func provenanceDir(b *build) string { return filepath.Join(b.root.Dir, "provenance") }

// stepAttest makes the image's attestations (an SBOM statement per set,
// one provenance statement), signs them when a signing key is given, and
// attaches them to the pushed image and the OCI layout.
type stepAttest struct{}

func (s *stepAttest) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	ui := state.Get("ui").(packersdk.Ui)
	c := b.cfg
	if !*c.Attest || b.artifact == nil || b.image == nil {
		return multistep.ActionContinue
	}
	if len(b.sets) == 0 {
		ui.Say("No pipbake set in the image: no attestations")
		return multistep.ActionContinue
	}
	atts, err := imageAttestations(b)
	if err != nil {
		return halt(state, fmt.Errorf("attest the image: %w", err))
	}
	signed := "unsigned"
	if c.SigningKey != "" {
		signed = "signed with " + c.SigningKey
	}
	a := b.artifact
	if a.Reference != "" {
		ref, err := ociimage.ParseReference(a.Reference, b.opts...)
		if err != nil {
			return halt(state, err)
		}
		d, ok := ref.(name.Digest)
		if !ok {
			return halt(state, fmt.Errorf("attest: %s is not a reference by digest", a.Reference))
		}
		pushed, err := ociattest.Push(ctx, d, atts, b.epoch, ociimage.RemoteOptions(b.opts...)...)
		if err != nil {
			return halt(state, err)
		}
		a.Attestations = pushed.Referrers
		ui.Say(fmt.Sprintf("Attached %d attestation(s) (%s) to %s as referrers and %s", len(atts), signed, a.Reference, pushed.AttTag))
	}
	if a.Layout != "" {
		mt, _ := b.image.MediaType()
		size, _ := b.image.Size()
		dg, _ := b.image.Digest()
		if err := ociattest.WriteLayout(a.Layout, v1.Descriptor{MediaType: mt, Digest: dg, Size: size}, atts, b.epoch); err != nil {
			return halt(state, err)
		}
		ui.Say(fmt.Sprintf("Wrote %d attestation(s) (%s) into %s", len(atts), signed, a.Layout))
	}
	return multistep.ActionContinue
}

func (s *stepAttest) Cleanup(multistep.StateBag) {}

// imageAttestations are the image's statements in envelopes: one SBOM
// statement per set (sorted by set), then the provenance.
func imageAttestations(b *build) ([]ociattest.Attestation, error) {
	c := b.cfg
	view := b.root.View()
	plans, err := bake.PlanRecords(provenanceDir(b))
	if err != nil {
		return nil, err
	}
	var sets []attest.Set
	for _, st := range b.sets {
		dir := st.Root + "/releases/" + st.Release + "/"
		rc, err := view.ReadFile(dir + receipt.FileName)
		if err != nil {
			return nil, fmt.Errorf("read the receipt of set %s: %w", st.Name, err)
		}
		sbom, err := view.ReadFile(dir + receipt.SBOMName)
		if err != nil {
			return nil, fmt.Errorf("read the SBOM of set %s: %w", st.Name, err)
		}
		s := attest.Set{Name: st.Name, Root: "/" + st.Root, Receipt: rc, SBOM: sbom}
		if plan, ok := plans[st.Name]; ok {
			s.Plan = &plan
		}
		switch {
		case st.Layer != nil:
			s.Layer = st.Layer.Digest.String()
		case len(b.layers) == 1: // layer_per_set off: the one new layer holds every set
			d, err := b.layers[0].Layer.Digest()
			if err != nil {
				return nil, err
			}
			s.Layer = d.String()
		}
		sets = append(sets, s)
	}
	templates, err := attest.TemplateFiles(c.TemplateFiles)
	if err != nil {
		return nil, err
	}
	epoch := b.epoch.Unix()
	actx := attest.Context{BuilderVersion: version.String(), Templates: templates, SourceDateEpoch: &epoch,
		Base: &attest.Image{Name: b.base.Name, Digest: b.base.Digest.String()}}
	prov, err := attest.NewProvenance(sets, actx)
	if err != nil {
		return nil, err
	}
	dg, err := b.image.Digest()
	if err != nil {
		return nil, err
	}
	subject := attest.SHA256Subject(subjectName(c), dg.Hex)
	var signer *ecdsa.PrivateKey
	if c.SigningKey != "" {
		if signer, err = loadSigningKey(c.SigningKey); err != nil {
			return nil, fmt.Errorf("signing_key: %w", err)
		}
	}
	var out []ociattest.Attestation
	add := func(st *attest.Statement) error {
		env, err := attest.Wrap(st, signer)
		if err != nil {
			return err
		}
		out = append(out, ociattest.Attestation{PredicateType: st.PredicateType, Envelope: env.Bytes()})
		return nil
	}
	for _, s := range sets {
		st, err := attest.SBOMStatement(s.SBOM, subject)
		if err != nil {
			return nil, fmt.Errorf("set %s: %w", s.Name, err)
		}
		if err := add(st); err != nil {
			return nil, err
		}
	}
	pst, err := prov.Statement(subject)
	if err != nil {
		return nil, err
	}
	if err := add(pst); err != nil {
		return nil, err
	}
	return out, nil
}

// subjectName is the statements' subject name: the target's repository,
// else the layout folder's name.
func subjectName(c *Config) string {
	if c.Target != "" {
		if ref, err := name.ParseReference(c.Target, name.WeakValidation); err == nil {
			return ref.Context().Name()
		}
	}
	return filepath.Base(c.OutputOCILayout)
}
