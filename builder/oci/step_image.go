package oci

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// stepImage assembles the image and pushes it and/or writes the layout.
type stepImage struct{}

func (s *stepImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	ui := state.Get("ui").(packersdk.Ui)
	c := b.cfg
	labels := map[string]string{}
	var pipbakeLabels map[string]string
	if len(b.receipts) > 0 {
		var err error
		if pipbakeLabels, err = ociimage.Labels(family(c, b), "", b.receipts); err != nil {
			return halt(state, err)
		}
		for k, v := range pipbakeLabels {
			labels[k] = v
		}
	}
	for k, v := range c.Labels {
		labels[k] = v
	}
	ann := map[string]string{}
	for k, v := range pipbakeLabels {
		ann[k] = v
	}
	for k, v := range c.Annotations {
		ann[k] = v
	}
	version := c.Version
	if version == "" {
		version = pipbakeLabels[ociimage.LabelRelease]
	}
	env := make([]string, 0, len(c.Env))
	for _, k := range sortedKeys(c.Env) {
		env = append(env, k+"="+c.Env[k])
	}
	// The image's created time tells releases apart: source_date_epoch or
	// SOURCE_DATE_EPOCH when set, else now (b.epoch, which clamps file
	// times, defaults to the base's creation time).
	created, err := ociimage.CreatedTime(c.SourceDateEpoch)
	if err != nil {
		return halt(state, err)
	}
	img, err := ociimage.Assemble(b.base, ociimage.Spec{
		Layers: b.layers, Created: created, Annotations: ann, Version: version,
		Config: ociimage.Config{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: env, User: c.User, WorkingDir: c.WorkingDir,
			ExposedPorts: c.ExposedPorts, Labels: labels},
	})
	if err != nil {
		return halt(state, fmt.Errorf("assemble the image: %w", err))
	}
	digest, err := img.Digest()
	if err != nil {
		return halt(state, err)
	}
	a := &Artifact{Digest: digest.String(), Base: b.base.Name, BaseDigest: b.base.Digest.String(), Labels: pipbakeLabels}
	if c.Target != "" {
		start := time.Now()
		ref, stats, err := ociimage.Push(img, c.Target, b.opts...)
		if err != nil {
			return halt(state, err)
		}
		a.Reference, a.Registry = ref.String(), ref.Context().RegistryStr()
		a.BlobUploads = stats.BlobUploads
		ui.Say(fmt.Sprintf("Pushed %s (%d new blob(s), %v)", ref, stats.BlobUploads, time.Since(start).Round(time.Millisecond)))
	}
	if c.OutputOCILayout != "" {
		refName := "latest"
		if c.Target != "" {
			if t, err := name.NewTag(c.Target, name.WeakValidation); err == nil {
				refName = t.TagStr()
			}
		}
		if err := ociimage.WriteLayout(c.OutputOCILayout, img, refName); err != nil {
			return halt(state, err)
		}
		a.Layout = c.OutputOCILayout
		ui.Say(fmt.Sprintf("Wrote OCI layout %s (%s)", c.OutputOCILayout, digest))
	}
	for _, st := range b.sets {
		if st.Layer != nil {
			a.SetLayers = append(a.SetLayers, SetLayer{Set: st.Name, Release: st.Release, Digest: st.Layer.Digest.String(), Cached: st.Layer.Cached})
		}
	}
	a.Layers = len(b.layers)
	b.artifact = a
	b.image = img
	ui.Say(fmt.Sprintf("Image %s: %d new layer(s) on %s, built in %v", digest, len(b.layers), b.base.Name, time.Since(b.start).Round(time.Millisecond)))
	return multistep.ActionContinue
}

func (s *stepImage) Cleanup(multistep.StateBag) {}

// family is the pipbake:family label: the config's, else the target's
// repository base name, else the first set's name.
func family(c *Config, b *build) string {
	if c.Family != "" {
		return c.Family
	}
	if c.Target != "" {
		if ref, err := name.ParseReference(c.Target, name.WeakValidation); err == nil {
			repo := ref.Context().RepositoryStr()
			for i := len(repo) - 1; i >= 0; i-- {
				if repo[i] == '/' {
					return repo[i+1:]
				}
			}
			return repo
		}
	}
	if len(b.receipts) > 0 {
		return b.receipts[0].Receipt.Set
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
