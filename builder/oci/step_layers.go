package oci

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// stepLayers turns what the provisioners changed into layers: one per
// pipbake set in name order after one for everything else, and stores
// the sets' new releases in the release cache.
type stepLayers struct{}

// layering is one run of stepLayers, phase by phase (Run lists them).
type layering struct {
	b     *build
	ui    packersdk.Ui
	view  rootfs.View
	start time.Time

	changes []layer.Change
	jobs    []layerJob
	// keys are the sets' release cache keys (nil where the release has no
	// receipt); cachedBefore says which were in the cache before this
	// build (restored, so their layers are probably unchanged).
	keys         []*install.CacheKey
	cachedBefore []bool

	store   *layer.Store
	comp    layer.Compression
	results []*layer.Result
}

func (s *stepLayers) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	l := &layering{b: b, ui: state.Get("ui").(packersdk.Ui), view: b.root.View(), start: time.Now(),
		store: &layer.Store{Dir: filepath.Join(b.cfg.CacheDir, "layers")}, comp: layer.Compression(b.cfg.Compression)}
	if err := l.run(ctx); err != nil {
		return halt(state, fmt.Errorf("make the layers: %w", err))
	}
	return multistep.ActionContinue
}

func (l *layering) run(ctx context.Context) error {
	if err := l.findChanges(); err != nil {
		return err
	}
	if err := l.findSets(); err != nil {
		return err
	}
	if err := l.readReceipts(); err != nil {
		return err
	}
	l.jobs = layerJobs(l.changes, l.b.sets, *l.b.cfg.LayerPerSet)
	l.readCacheState()
	// Without a layer per set, new releases are stored as folders, copied
	// while the layers are compressed.
	harvested := make(chan struct{})
	go func() {
		defer close(harvested)
		l.storeReleaseFolders()
	}()
	err := l.buildLayers(ctx)
	<-harvested
	if err != nil {
		return err
	}
	l.record()
	l.storeLayerEntries()
	return nil
}

// findChanges lists what the provisioners changed: the overlay's upper
// folder, or the root against its snapshot.
func (l *layering) findChanges() error {
	r := l.b.root
	ex := append(append(layer.Excludes{}, layer.DefaultExcludes...), strings.TrimPrefix(ReleaseCacheMount, "/"))
	var err error
	if r.Overlay {
		l.changes, err = layer.FromUpper(r.Upper, r.BaseView(), ex)
	} else {
		l.changes, err = layer.FromSnapshot(r.Root, r.Snapshot, r.BaseView(), ex)
	}
	if err != nil {
		return fmt.Errorf("find the changes: %w", err)
	}
	l.b.changes = len(l.changes)
	return nil
}

// findSets finds the sets whose release this build wrote.
func (l *layering) findSets() error {
	sets, err := setsOfChanges(l.changes, l.view.ReadFile)
	if err != nil {
		return err
	}
	l.b.sets = append(l.b.sets, sets...)
	return nil
}

// readReceipts reads every set's receipt in the image, for the labels.
func (l *layering) readReceipts() error {
	names, err := l.view.ReadDir(receiptsRel)
	if err != nil {
		return nil // no receipts folder: no sets
	}
	for _, n := range names {
		if !isSetReceipt(n) {
			continue
		}
		data, err := l.view.ReadFile(receiptsRel + "/" + n)
		if err != nil {
			return err
		}
		if rc, err := ociimage.ParseReceipt(data); err == nil {
			l.b.receipts = append(l.b.receipts, rc)
		}
	}
	return nil
}

// readCacheState finds each set's release cache key and whether the
// cache held it before this build.
func (l *layering) readCacheState() {
	sets := l.b.sets
	l.cachedBefore = make([]bool, len(sets))
	l.keys = make([]*install.CacheKey, len(sets))
	for i, st := range sets {
		abs, _, err := l.view.Lstat(st.Root + "/releases/" + st.Release)
		if err != nil {
			continue
		}
		rc, err := receipt.Read(abs)
		if err != nil {
			continue
		}
		k := install.KeyOfReceipt(rc, "/"+st.Root)
		l.keys[i] = &k
		l.cachedBefore[i] = install.HasEntry(releaseCacheDir(l.b.cfg), k)
	}
}

// storeReleaseFolders stores, without a layer per set, each new release
// in the release cache as a folder. A failure is a warning.
func (l *layering) storeReleaseFolders() {
	if !*l.b.cfg.ReleaseCache || *l.b.cfg.LayerPerSet {
		return
	}
	for i, st := range l.b.sets {
		if l.keys[i] == nil || l.cachedBefore[i] {
			continue
		}
		abs, _, err := l.view.Lstat(st.Root + "/releases/" + st.Release)
		if err != nil {
			continue
		}
		if err := install.StoreRelease(releaseCacheDir(l.b.cfg), *l.keys[i], abs); err != nil {
			l.ui.Error(fmt.Sprintf("pipbake-oci: warning: release cache: %v", err))
		}
	}
}

// buildLayers writes and compresses the layers, one per CPU at a time
// (compression is CPU-bound); the first failure stops the rest.
func (l *layering) buildLayers(ctx context.Context) error {
	l.results = make([]*layer.Result, len(l.jobs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i, j := range l.jobs {
		if len(j.changes) == 0 {
			continue
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			write := func(w io.Writer) error { return layer.WriteTar(w, l.view, j.changes, l.b.epoch) }
			var err error
			if j.set >= 0 && !l.cachedBefore[j.set] {
				// A set installed (not restored) in this build: a new layer.
				l.results[i], err = l.store.BuildNew(write, l.comp)
			} else {
				l.results[i], err = l.store.Build(write, l.comp)
			}
			if err != nil {
				return fmt.Errorf("layer %q: %w", j.createdBy, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// record adds the layers to the build in order and says what each is.
func (l *layering) record() {
	b := l.b
	for i, j := range l.jobs {
		res := l.results[i]
		if res == nil {
			continue
		}
		if j.set >= 0 {
			b.sets[j.set].Layer = res
		}
		b.layers = append(b.layers, ociimage.Layer{Layer: res.Layer, CreatedBy: j.createdBy})
		how := "new"
		if res.Cached {
			how = "unchanged, cached"
		}
		l.ui.Say(fmt.Sprintf("layer %s: %s (%d changes, %.1f MB, %s)", res.Digest.Hex[:12], j.createdBy, len(j.changes), float64(res.Size)/(1<<20), how))
	}
	l.ui.Say(fmt.Sprintf("%d change(s) in %d layer(s) (%v)", len(l.changes), len(b.layers), time.Since(l.start).Round(time.Millisecond)))
}

// storeLayerEntries stores, with a layer per set, each new release in the
// release cache as its layer's blob (a hard link) and the place of the
// release in it. A failure is a warning.
func (l *layering) storeLayerEntries() {
	if !*l.b.cfg.ReleaseCache || !*l.b.cfg.LayerPerSet {
		return
	}
	for i, st := range l.b.sets {
		if l.keys[i] == nil || l.cachedBefore[i] || st.Layer == nil {
			continue
		}
		blob := filepath.Join(l.store.Dir, "blobs", st.Layer.Digest.Algorithm, st.Layer.Digest.Hex)
		le := install.LayerEntry{Prefix: st.Root + "/releases/" + st.Release, Compression: string(l.comp), Digest: st.Layer.Digest.String()}
		if err := install.StoreLayerEntry(releaseCacheDir(l.b.cfg), *l.keys[i], blob, le); err != nil {
			l.ui.Error(fmt.Sprintf("pipbake-oci: warning: release cache: %v", err))
		}
	}
}

func (s *stepLayers) Cleanup(multistep.StateBag) {}
