package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
)

// ReleaseCacheMount is where the host's release cache is shown, read-only,
// inside the root during the build (a build-only path, never in a layer).
const ReleaseCacheMount = "/run/pipbake-release-cache"

// stepCommunicator gives provisioners a communicator into the root.
type stepCommunicator struct{}

func (s *stepCommunicator) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	r := b.root
	spec := chroot.Spec{Env: append([]string(nil), chroot.DefaultEnv...)}
	spec.Env = append(spec.Env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(b.epoch.Unix(), 10))
	if r.Overlay {
		spec.Dir, spec.Lower, spec.Upper, spec.Work = r.Merged, r.Lower, r.Upper, r.Work
	} else {
		spec.Dir = r.Root
	}
	if _, err := os.Stat("/etc/resolv.conf"); err == nil {
		spec.ResolvConf = "/etc/resolv.conf"
	}
	if *b.cfg.ReleaseCache {
		dir := releaseCacheDir(b.cfg)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return halt(state, err)
		}
		spec.Binds = append(spec.Binds, chroot.Bind{Source: dir, Target: ReleaseCacheMount, ReadOnly: true})
		spec.Env = append(spec.Env, install.ReleaseCacheEnv+"="+ReleaseCacheMount)
	}
	self, err := os.Executable()
	if err != nil {
		return halt(state, err)
	}
	b.mu.Lock()
	b.session = &chroot.Session{Spec: spec, Self: self}
	b.mu.Unlock()
	state.Put("communicator", &chroot.Communicator{Session: b.session, Ctx: ctx})
	state.Get("ui").(packersdk.Ui).Say(fmt.Sprintf("Provisioning inside the root (chroot; epoch %d)", b.epoch.Unix()))
	return multistep.ActionContinue
}

// Cleanup ends whatever a provisioner left running in the root (an
// interrupted command keeps running otherwise: Packer's communicator calls
// carry no cancellation), before the root is removed.
func (s *stepCommunicator) Cleanup(state multistep.StateBag) {
	if b, ok := state.Get(stateBuild).(*build); ok {
		b.closeSession()
	}
}

func releaseCacheDir(c *Config) string { return filepath.Join(c.CacheDir, "releases") }
