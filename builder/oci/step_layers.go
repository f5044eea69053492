package oci

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
)

// Where a set's other files live, relative to the root.
const (
	receiptsRel     = "var/lib/pipbake/receipts"
	attestationsRel = "var/lib/pipbake/attestations"
	unitsRel        = "etc/systemd/system"
)

// stepLayers turns what the provisioners changed into layers: one per
// pipbake set in name order after one for everything else, and stores
// the sets' new releases in the release cache.
type stepLayers struct{}

func (s *stepLayers) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	b := state.Get(stateBuild).(*build)
	ui := state.Get("ui").(packersdk.Ui)
	r := b.root
	start := time.Now()
	ex := append(append(layer.Excludes{}, layer.DefaultExcludes...), strings.TrimPrefix(ReleaseCacheMount, "/"))
	var changes []layer.Change
	var err error
	if r.Overlay {
		changes, err = layer.FromUpper(r.Upper, r.BaseView(), ex)
	} else {
		changes, err = layer.FromSnapshot(r.Root, r.Snapshot, r.BaseView(), ex)
	}
	if err != nil {
		return halt(state, fmt.Errorf("find the changes: %w", err))
	}
	b.changes = len(changes)
	view := r.View()

	// The sets whose release this build wrote: .../releases/<id>/pipbake-receipt.json.
	for _, c := range changes {
		if c.Kind != layer.Write || path.Base(c.Path) != receipt.FileName {
			continue
		}
		relDir := path.Dir(c.Path)
		if path.Base(path.Dir(relDir)) != "releases" {
			continue
		}
		data, err := view.ReadFile(c.Path)
		if err != nil {
			return halt(state, err)
		}
		rc, err := ociimage.ParseReceipt(data)
		if err != nil {
			return halt(state, fmt.Errorf("%s: %w", c.Path, err))
		}
		b.sets = append(b.sets, bakedSet{Name: rc.Receipt.Set, Root: path.Dir(path.Dir(relDir)), Release: rc.Receipt.Release})
	}
	sort.Slice(b.sets, func(i, j int) bool { return b.sets[i].Name < b.sets[j].Name })

	// Every set's receipt in the image, for the labels.
	if names, err := view.ReadDir(receiptsRel); err == nil {
		for _, n := range names {
			if !strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".cdx.json") {
				continue
			}
			data, err := view.ReadFile(receiptsRel + "/" + n)
			if err != nil {
				return halt(state, err)
			}
			if rc, err := ociimage.ParseReceipt(data); err == nil {
				b.receipts = append(b.receipts, rc)
			}
		}
	}

	var groups []layer.Group
	if *b.cfg.LayerPerSet {
		for _, st := range b.sets {
			groups = append(groups, layer.Group{Name: st.Name, Paths: []string{
				st.Root,
				unitsRel + "/" + st.Name + ".service",
				unitsRel + "/multi-user.target.wants/" + st.Name + ".service",
				receiptsRel + "/" + st.Name + ".json",
				receiptsRel + "/" + st.Name + ".cdx.json",
				attestationsRel + "/" + attest.SBOMFile(st.Name),
				attestationsRel + "/" + attest.ProvenanceFile(st.Name),
				unitsRel + "/" + service.VerifyUnit(st.Name),
				unitsRel + "/multi-user.target.wants/" + service.VerifyUnit(st.Name),
			}})
		}
	}
	parts := layer.Split(changes, groups)
	type job struct {
		changes   []layer.Change
		createdBy string
		set       int // index in b.sets, or -1
	}
	// Everything else first, then the sets in name order.
	jobs := []job{{changes: parts[len(parts)-1], createdBy: "pipbake-oci: provisioners (outside the pipbake sets)", set: -1}}
	for i, st := range b.sets {
		if i < len(groups) {
			jobs = append(jobs, job{changes: parts[i], createdBy: fmt.Sprintf("pipbake-oci: set %s (release %s, %s)", st.Name, st.Release, "/"+st.Root), set: i})
		}
	}
	// Which sets' releases were in the release cache before this build
	// (restored, so their layers are probably unchanged), and their keys.
	cachedBefore := make([]bool, len(b.sets))
	keys := make([]*install.CacheKey, len(b.sets))
	for i, st := range b.sets {
		if abs, _, err := view.Lstat(st.Root + "/releases/" + st.Release); err == nil {
			if rc, err := receipt.Read(abs); err == nil {
				k := install.KeyOfReceipt(rc, "/"+st.Root)
				keys[i] = &k
				cachedBefore[i] = install.HasEntry(releaseCacheDir(b.cfg), k)
			}
		}
	}
	// Without a layer per set, new releases are stored as folders, copied
	// while the layers are compressed.
	harvested := make(chan struct{})
	go func() {
		defer close(harvested)
		if !*b.cfg.ReleaseCache || *b.cfg.LayerPerSet {
			return
		}
		for i, st := range b.sets {
			if keys[i] == nil || cachedBefore[i] {
				continue
			}
			abs, _, err := view.Lstat(st.Root + "/releases/" + st.Release)
			if err != nil {
				continue
			}
			if err := install.StoreRelease(releaseCacheDir(b.cfg), *keys[i], abs); err != nil {
				ui.Error(fmt.Sprintf("pipbake-oci: warning: release cache: %v", err))
			}
		}
	}()
	store := &layer.Store{Dir: filepath.Join(b.cfg.CacheDir, "layers")}
	comp := layer.Compression(b.cfg.Compression)
	results := make([]*layer.Result, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, j := range jobs {
		if len(j.changes) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			write := func(w io.Writer) error { return layer.WriteTar(w, view, j.changes, b.epoch) }
			if j.set >= 0 && !cachedBefore[j.set] {
				// A set installed (not restored) in this build: a new layer.
				results[i], errs[i] = store.BuildNew(write, comp)
			} else {
				results[i], errs[i] = store.Build(write, comp)
			}
		}()
	}
	wg.Wait()
	for i, j := range jobs {
		if errs[i] != nil {
			return halt(state, fmt.Errorf("layer %q: %w", j.createdBy, errs[i]))
		}
		res := results[i]
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
		ui.Message(fmt.Sprintf("layer %s: %s (%d changes, %.1f MB, %s)", res.Digest.Hex[:12], j.createdBy, len(j.changes), float64(res.Size)/(1<<20), how))
	}
	ui.Say(fmt.Sprintf("%d change(s) in %d layer(s) (%v)", len(changes), len(b.layers), time.Since(start).Round(time.Millisecond)))

	<-harvested
	// With a layer per set, a new release is stored as its layer's blob
	// (a hard link) and the place of the release in it.
	if *b.cfg.ReleaseCache && *b.cfg.LayerPerSet {
		for i, st := range b.sets {
			if keys[i] == nil || cachedBefore[i] || st.Layer == nil {
				continue
			}
			blob := filepath.Join(store.Dir, "blobs", st.Layer.Digest.Algorithm, st.Layer.Digest.Hex)
			le := install.LayerEntry{Prefix: st.Root + "/releases/" + st.Release, Compression: string(comp), Digest: st.Layer.Digest.String()}
			if err := install.StoreLayerEntry(releaseCacheDir(b.cfg), *keys[i], blob, le); err != nil {
				ui.Error(fmt.Sprintf("pipbake-oci: warning: release cache: %v", err))
			}
		}
	}
	return multistep.ActionContinue
}

func (s *stepLayers) Cleanup(multistep.StateBag) {}
