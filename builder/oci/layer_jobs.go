package oci

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
)

// The pure parts of stepLayers: which sets the changes hold, which change
// goes to which layer. They read files only through readFile, so tests run
// them on changes they make up, without a root.

// Where a set's other files live, relative to the root.
const (
	receiptsRel     = "var/lib/pipbake/receipts"
	attestationsRel = "var/lib/pipbake/attestations"
	unitsRel        = "etc/systemd/system"
)

// setsOfChanges finds the sets whose release the build wrote (a written
// .../releases/<id>/pipbake-receipt.json), in name order, reading each
// receipt with readFile.
func setsOfChanges(changes []layer.Change, readFile func(string) ([]byte, error)) ([]bakedSet, error) {
	var sets []bakedSet
	for _, c := range changes {
		if c.Kind != layer.Write || path.Base(c.Path) != receipt.FileName {
			continue
		}
		relDir := path.Dir(c.Path)
		if path.Base(path.Dir(relDir)) != "releases" {
			continue
		}
		data, err := readFile(c.Path)
		if err != nil {
			return nil, err
		}
		rc, err := ociimage.ParseReceipt(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
		sets = append(sets, bakedSet{Name: rc.Receipt.Set, Root: path.Dir(path.Dir(relDir)), Release: rc.Receipt.Release})
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	return sets, nil
}

// setGroups are the paths of each set's layer: its root, its service unit
// and the link enabling it, its receipt and SBOM, its attestations, its
// verify-on-boot unit and the link enabling that.
func setGroups(sets []bakedSet) []layer.Group {
	groups := make([]layer.Group, 0, len(sets))
	for _, st := range sets {
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
	return groups
}

// layerJob is one layer to build.
type layerJob struct {
	changes   []layer.Change
	createdBy string
	set       int // index in the sets, or -1
}

// layerJobs splits the changes into layers: everything outside the sets
// first, then, with a layer per set, one per set in name order. A job may
// have no changes (and makes no layer).
func layerJobs(changes []layer.Change, sets []bakedSet, layerPerSet bool) []layerJob {
	var groups []layer.Group
	if layerPerSet {
		groups = setGroups(sets)
	}
	parts := layer.Split(changes, groups)
	jobs := []layerJob{{changes: parts[len(parts)-1], createdBy: "pipbake-oci: provisioners (outside the pipbake sets)", set: -1}}
	for i, st := range sets {
		if i < len(groups) {
			jobs = append(jobs, layerJob{changes: parts[i], createdBy: fmt.Sprintf("pipbake-oci: set %s (release %s, %s)", st.Name, st.Release, "/"+st.Root), set: i})
		}
	}
	return jobs
}

// isSetReceipt says whether a file name in the receipts folder is a set's
// receipt (<set>.json, not its SBOM <set>.cdx.json).
func isSetReceipt(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".cdx.json")
}
