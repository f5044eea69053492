package oci

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// buildRoot is the root provisioners work in.
type buildRoot struct {
	// Dir is the build's own folder under CACHE/builds.
	Dir     string
	lock    *os.File
	Overlay bool
	// Overlay: Lower (topmost first), Upper, Work, Merged (mount point).
	Lower               []string
	Upper, Work, Merged string
	// Copy: Root (a copy of Flat, the cached base) and its Snapshot.
	Root, Flat string
	Snapshot   *layer.Snapshot
}

// View is the built root as a read-only view.
func (r *buildRoot) View() rootfs.View {
	if r.Overlay {
		return rootfs.View{Dirs: append([]string{r.Upper}, r.Lower...)}
	}
	return rootfs.View{Dirs: []string{r.Root}}
}

// BaseView is the unchanged base.
func (r *buildRoot) BaseView() rootfs.View {
	if r.Overlay {
		return rootfs.View{Dirs: r.Lower}
	}
	return rootfs.View{Dirs: []string{r.Flat}}
}

// stepRootfs unpacks the base's layers into the cache (once per digest)
// and assembles the build's root from them.
type stepRootfs struct {
	root *buildRoot
}

func (s *stepRootfs) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	ui := state.Get("ui").(packersdk.Ui)
	if err := chroot.Supported(); err != nil {
		return halt(state, fmt.Errorf("pipbake-oci: %w (run packer as root)", err))
	}
	builds := filepath.Join(buildDir(b.cfg), "pipbake-oci-builds")
	if err := os.MkdirAll(builds, 0o700); err != nil {
		return halt(state, err)
	}
	removeStaleBuilds(builds)
	dir, err := os.MkdirTemp(builds, time.Now().UTC().Format("20060102T150405-"))
	if err != nil {
		return halt(state, err)
	}
	r := &buildRoot{Dir: dir}
	s.root = r
	if r.lock, err = os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return halt(state, err)
	}
	if err := tryLock(r.lock); err != nil {
		return halt(state, fmt.Errorf("lock the build folder %s: %w", dir, err))
	}

	layers, err := b.base.Image.Layers()
	if err != nil {
		return halt(state, fmt.Errorf("base layers: %w", err))
	}
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return halt(state, fmt.Errorf("base layer %d: %w", i, err))
		}
		diffIDs[i] = d.String()
	}
	// Unpacking a large base takes a while: a line now and then in
	// Packer's UI (files, bytes, rate), nothing for one under a second.
	cache := &rootfs.Cache{Dir: filepath.Join(b.cfg.CacheDir, "rootfs"), Progress: progress.LineWriter(ui.Say)}
	self, err := os.Executable()
	if err != nil {
		return halt(state, err)
	}
	switch b.cfg.Rootfs {
	case "overlay":
		r.Overlay = true
	case "auto":
		r.Overlay = chroot.OverlaySupported(self, dir)
	}
	start := time.Now()
	unpacked := 0
	if r.Overlay {
		for i := len(layers) - 1; i >= 0; i-- {
			l := layers[i]
			ldir, hit, err := cache.Layer(diffIDs[i], func() (io.ReadCloser, error) { return l.Uncompressed() })
			if err != nil {
				return halt(state, fmt.Errorf("unpack base layer %s: %w", diffIDs[i], err))
			}
			if !hit {
				unpacked++
			}
			r.Lower = append(r.Lower, ldir)
		}
		r.Upper, r.Work, r.Merged = filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
		for _, d := range []string{r.Upper, r.Work, r.Merged} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return halt(state, err)
			}
		}
		ui.Say(fmt.Sprintf("Root: overlayfs of %d cached base layer(s) (%d unpacked now, %v)", len(layers), unpacked, time.Since(start).Round(time.Millisecond)))
	} else {
		flat, hit, err := cache.Chain(diffIDs, func(i int) (io.ReadCloser, error) { return layers[i].Uncompressed() })
		if err != nil {
			return halt(state, fmt.Errorf("unpack the base: %w", err))
		}
		r.Flat, r.Root = flat, filepath.Join(dir, "root")
		if err := os.Mkdir(r.Root, 0o755); err != nil {
			return halt(state, err)
		}
		if err := rootfs.CopyTree(r.Root, flat); err != nil {
			return halt(state, fmt.Errorf("copy the base: %w", err))
		}
		if r.Snapshot, err = layer.Take(r.Root); err != nil {
			return halt(state, err)
		}
		ui.Say(fmt.Sprintf("Root: a copy of the base (%s, cached: %v, %v)", b.cfg.Rootfs, hit, time.Since(start).Round(time.Millisecond)))
	}
	b.root = r
	return multistep.ActionContinue
}

// Cleanup removes the build's folder: the upper directory or the copy.
// Nothing is mounted on the host, so there is nothing to unmount.
func (s *stepRootfs) Cleanup(state multistep.StateBag) {
	if s.root == nil {
		return
	}
	if err := os.RemoveAll(s.root.Dir); err != nil {
		state.Get("ui").(packersdk.Ui).Error(fmt.Sprintf("pipbake-oci: remove %s: %v", s.root.Dir, err))
	}
	if s.root.lock != nil {
		s.root.lock.Close()
	}
}

// buildDir is where build roots go: build_dir, else /dev/shm when it is
// a roomy tmpfs, else the cache folder.
func buildDir(c *Config) string {
	if c.BuildDir != "" {
		return c.BuildDir
	}
	if roomyTmpfs("/dev/shm") {
		return "/dev/shm"
	}
	return c.CacheDir
}

// removeStaleBuilds removes build folders no running build holds (left by
// a killed Packer), so a retry starts clean.
func removeStaleBuilds(builds string) {
	ents, err := os.ReadDir(builds)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(builds, e.Name())
		f, err := os.OpenFile(filepath.Join(p, ".lock"), os.O_RDWR, 0)
		if err != nil {
			if os.IsNotExist(err) {
				os.RemoveAll(p)
			}
			continue
		}
		if tryLock(f) == nil {
			os.RemoveAll(p)
		}
		f.Close()
	}
}
