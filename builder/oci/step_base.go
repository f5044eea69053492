package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// stepBase opens the base image and fixes the build's epoch.
type stepBase struct{}

func (s *stepBase) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	ui := state.Get("ui").(packersdk.Ui)
	c := b.cfg
	platform, _ := ociimage.ParsePlatform(c.Platform)
	b.opts = []ociimage.Option{
		ociimage.WithContext(ctx),
		ociimage.WithPlatform(platform),
		ociimage.WithInsecure(c.InsecureRegistries),
		ociimage.WithKeychain(ociimage.Keychain(ctx)),
	}
	ui.Say(fmt.Sprintf("Opening base %s (%s)", c.Base, c.Platform))
	base, err := ociimage.Open(c.Base, append(b.opts, ociimage.WithCache(filepath.Join(c.CacheDir, "pulled")))...)
	if err != nil {
		return halt(state, err)
	}
	b.base = base
	switch {
	case c.SourceDateEpoch != nil:
		b.epoch = time.Unix(*c.SourceDateEpoch, 0)
	case os.Getenv("SOURCE_DATE_EPOCH") != "":
		n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
		if err != nil {
			return halt(state, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", os.Getenv("SOURCE_DATE_EPOCH"), err))
		}
		b.epoch = time.Unix(n, 0)
	default:
		b.epoch = base.Config.Created.Time
	}
	b.epoch = b.epoch.UTC().Truncate(time.Second)
	ui.Say(fmt.Sprintf("base %s; epoch %s", base.Digest, b.epoch.Format(time.RFC3339)))
	return multistep.ActionContinue
}

func (s *stepBase) Cleanup(multistep.StateBag) {}
