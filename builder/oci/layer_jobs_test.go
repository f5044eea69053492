package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
)

func write(p string) layer.Change { return layer.Change{Path: p, Kind: layer.Write} }

func paths(cs []layer.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Path)
	}
	return out
}

// receiptJSON is the smallest receipt ociimage.ParseReceipt takes.
func receiptJSON(set, rel string) []byte {
	return fmt.Appendf(nil, `{"schema":%d,"set":%q,"release":%q,"lock":{"sha256":"%s"},"interpreter":{"version":"3.11.7"},"distributions":[]}`,
		receipt.Schema, set, rel, strings.Repeat("a", 64))
}

// TestSetsOfChanges: a written releases/<id>/pipbake-receipt.json makes a
// set, in name order; other receipts-named files do not; a receipt that
// does not parse is an error naming its path.
func TestSetsOfChanges(t *testing.T) {
	files := map[string][]byte{
		"opt/web/releases/r2/" + receipt.FileName: receiptJSON("web", "r2"),
		"opt/api/releases/r1/" + receipt.FileName: receiptJSON("api", "r1"),
	}
	read := func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, fs.ErrNotExist
	}
	changes := []layer.Change{
		write("etc/hosts"),
		write("opt/web/releases/r2/" + receipt.FileName),
		write("opt/api/releases/r1/" + receipt.FileName),
		write("opt/other/" + receipt.FileName), // not in releases/<id>/
		{Path: "opt/old/releases/r0/" + receipt.FileName, Kind: layer.Delete},
	}
	sets, err := setsOfChanges(changes, read)
	if err != nil {
		t.Fatal(err)
	}
	want := []bakedSet{{Name: "api", Root: "opt/api", Release: "r1"}, {Name: "web", Root: "opt/web", Release: "r2"}}
	if !reflect.DeepEqual(sets, want) {
		t.Fatalf("sets = %+v, want %+v", sets, want)
	}
	files["opt/api/releases/r1/"+receipt.FileName] = []byte("{")
	if _, err := setsOfChanges(changes, read); err == nil || !strings.Contains(err.Error(), "opt/api/releases/r1/"+receipt.FileName) {
		t.Errorf("a broken receipt: %v", err)
	}
	boom := errors.New("boom")
	if _, err := setsOfChanges(changes, func(string) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("a read error: %v", err)
	}
}

// TestLayerJobs: which change belongs to which layer. Everything outside
// the sets goes first; each set's root, unit, unit link, receipt and SBOM
// (and attestations and verify unit) go to its own layer; without a layer per set there is one layer.
func TestLayerJobs(t *testing.T) {
	sets := []bakedSet{{Name: "api", Root: "opt/api", Release: "r1"}, {Name: "web", Root: "srv/web", Release: "r2"}}
	changes := []layer.Change{
		write("etc/hosts"),
		write("opt/api/releases/r1/bin/python"),
		{Path: "opt/api/current", Kind: layer.Write},
		write("opt/apiary/x"), // another folder that starts alike
		write(unitsRel + "/api.service"),
		write(unitsRel + "/multi-user.target.wants/api.service"),
		write(receiptsRel + "/api.json"),
		write(receiptsRel + "/api.cdx.json"),
		write(attestationsRel + "/" + attest.SBOMFile("api")),
		write(unitsRel + "/" + service.VerifyUnit("api")),
		write(receiptsRel + "/web.json"),
		write(attestationsRel + "/" + attest.ProvenanceFile("web")),
		write("srv/web/releases/r2/lib/x.py"),
		write(unitsRel + "/other.service"),
	}
	jobs := layerJobs(changes, sets, true)
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(jobs))
	}
	for i, want := range []struct {
		set       int
		createdBy string
		paths     []string
	}{
		{-1, "pipbake-oci: provisioners (outside the pipbake sets)", []string{"etc/hosts", "opt/apiary/x", unitsRel + "/other.service"}},
		{0, "pipbake-oci: set api (release r1, /opt/api)", []string{"opt/api/releases/r1/bin/python", "opt/api/current", unitsRel + "/api.service",
			unitsRel + "/multi-user.target.wants/api.service", receiptsRel + "/api.json", receiptsRel + "/api.cdx.json",
			attestationsRel + "/" + attest.SBOMFile("api"), unitsRel + "/" + service.VerifyUnit("api")}},
		{1, "pipbake-oci: set web (release r2, /srv/web)", []string{receiptsRel + "/web.json", attestationsRel + "/" + attest.ProvenanceFile("web"), "srv/web/releases/r2/lib/x.py"}},
	} {
		j := jobs[i]
		if j.set != want.set || j.createdBy != want.createdBy || !reflect.DeepEqual(paths(j.changes), want.paths) {
			t.Errorf("job %d = set %d %q %v\nwant set %d %q %v", i, j.set, j.createdBy, paths(j.changes), want.set, want.createdBy, want.paths)
		}
	}
	one := layerJobs(changes, sets, false)
	if len(one) != 1 || one[0].set != -1 || len(one[0].changes) != len(changes) {
		t.Errorf("without a layer per set: %d jobs, first with %d changes", len(one), len(one[0].changes))
	}
	if isSetReceipt("api.cdx.json") || !isSetReceipt("api.json") || isSetReceipt("api.txt") {
		t.Error("isSetReceipt")
	}
}
