package registry_test

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/registry"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// layer is an uncompressed tar layer of files (name -> content; a name
// ending in / is a folder).
func layer(t *testing.T, files map[string]string, order ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range order {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if strings.HasSuffix(name, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[name]))
	}
	tw.Close()
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

func receiptJSON(t *testing.T, set, rel string, dists ...string) string {
	t.Helper()
	rc := receipt.Receipt{Schema: receipt.Schema, Set: set, Release: rel, Lock: receipt.Lock{SHA256: strings.Repeat(rel, 64)[:64]}}
	for i := 0; i+1 < len(dists); i += 2 {
		rc.Distributions = append(rc.Distributions, receipt.Distribution{Name: dists[i], Version: dists[i+1]})
	}
	data, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// bakedImage is an image whose layers hold receipts (each layer a map of
// set -> receipt; "" marks a whiteout of that set's receipt), labelled as
// pipbake-oci labels it: from the receipts a runtime would see.
func bakedImage(t *testing.T, family, rel string, layers ...map[string]string) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	seen := map[string]string{}
	for _, l := range layers {
		files := map[string]string{"var/": "", "var/lib/": "", "var/lib/pipbake/": "", "var/lib/pipbake/receipts/": ""}
		order := []string{"var/", "var/lib/", "var/lib/pipbake/", "var/lib/pipbake/receipts/"}
		for set, data := range l {
			name := "var/lib/pipbake/receipts/" + set + ".json"
			if data == "" {
				name = "var/lib/pipbake/receipts/.wh." + set + ".json"
				delete(seen, set)
			} else {
				seen[set] = data
			}
			files[name] = data
			order = append(order, name)
		}
		var err error
		if img, err = mutate.AppendLayers(img, layer(t, files, order...)); err != nil {
			t.Fatal(err)
		}
	}
	var rfs []catalog.ReceiptFile
	for set, data := range seen {
		rf, err := catalog.ParseReceiptFile(set+".json", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		rfs = append(rfs, rf)
	}
	r, err := catalog.FromReceipts(family, rel, rfs)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = r.Tags()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestRegistryRevokeAndDiff(t *testing.T) {
	for name, start := range map[string]func(*testing.T) string{"go-containerregistry": inProcess, "docker-registry": debianRegistry} {
		t.Run(name, func(t *testing.T) { revokeScenario(t, start(t)) })
	}
}

func revokeScenario(t *testing.T, host string) {
	ctx := context.Background()
	repo := host + "/pipbake/api-node"
	digest := map[string]string{}
	digest["1"] = push(t, repo+":1", bakedImage(t, "api-node", "1", map[string]string{"api": receiptJSON(t, "api", "1", "api", "1.0", "flask", "3.1.2", "click", "8.1.7")}))
	digest["2"] = push(t, repo+":2", bakedImage(t, "api-node", "2", map[string]string{"api": receiptJSON(t, "api", "2", "api", "1.1", "flask", "3.1.3", "click", "8.1.7")}))
	// Release 3: a lower layer has a worker set that an upper layer
	// removes; the api receipt is replaced.
	digest["3"] = push(t, repo+":3", bakedImage(t, "api-node", "3",
		map[string]string{"api": receiptJSON(t, "api", "3", "api", "1.1"), "worker": receiptJSON(t, "worker", "3", "worker", "2.0")},
		map[string]string{"worker": "", "api": receiptJSON(t, "api", "3", "api", "1.2", "flask", "3.1.3", "blinker", "1.9")}))
	c, err := registry.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	mustExec := func(p *registry.Plan, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Execute(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(c.PlanPromote(ctx, "1", "prod", "", false))

	// Revoke 2: a record refers to it; the images say so, and list no
	// record or fallback tag of their own.
	rp, err := c.PlanRevoke(ctx, "2", "", "CVE-2026-1234 in flask", now)
	if err != nil {
		t.Fatal(err)
	}
	if s := rp.String(); !strings.Contains(s, "push a revocation record ("+registry.RevocationType+") referring to "+digest["2"]) {
		t.Errorf("plan:\n%s", s)
	}
	if err := c.ExecuteRevoke(ctx, rp); err != nil {
		t.Fatal(err)
	}
	list, err := c.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[1].Revoked == nil || list[1].Revoked.Reason != "CVE-2026-1234 in flask" || list[0].Revoked != nil || list[2].Revoked != nil {
		t.Fatalf("images after revoke: %+v", list)
	}

	// promote refuses it, unless forced (loudly).
	if _, err := c.PlanPromote(ctx, "2", "prod", "", false); err == nil || !strings.Contains(err.Error(), "is revoked 2026-11-26T10:00:00Z: CVE-2026-1234 in flask; pass --force to promote it anyway") {
		t.Errorf("promote revoked: %v", err)
	}
	if p, err := c.PlanPromote(ctx, "2", "prod", "", true); err != nil || !strings.HasPrefix(p.String(), "WARNING: PROMOTE TO A REVOKED RELEASE (--force)") {
		t.Errorf("forced: %v\n%v", err, p)
	}

	// promote 3: the plan's diff comes from the receipts in the layers.
	p, err := c.PlanPromote(ctx, "3", "prod", "", false)
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	for _, want := range []string{"changes: api-node@1 (", "~ api 1.0 -> 1.2", "+ blinker 1.9", "- click 8.1.7", "~ flask 3.1.2 -> 3.1.3"} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "worker") || strings.Contains(s, "unknown") {
		t.Errorf("the whiteout hides worker; everything is known:\n%s", s)
	}
	mustExec(p, nil)

	// rollback passes over 2, to 1.
	p, err = c.PlanRollback(ctx, "prod", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if p.To.Digest != digest["1"] || !strings.Contains(p.String(), "skipped api-node@2 (") {
		t.Fatalf("rollback:\n%s", p)
	}
	if _, err := c.PlanRollback(ctx, "prod", "2", false); err == nil || !strings.Contains(err.Error(), "pass --force to rollback it anyway") {
		t.Errorf("rollback --to revoked: %v", err)
	}

	// unrevoke: a newer record takes it back.
	up, err := c.PlanUnrevoke(ctx, "2", "api-node", now.Add(time.Minute))
	if err != nil || up.Noop {
		t.Fatalf("unrevoke: %v %+v", err, up)
	}
	if err := c.ExecuteRevoke(ctx, up); err != nil {
		t.Fatal(err)
	}
	p, err = c.PlanRollback(ctx, "prod", "", false)
	if err != nil || p.To.Digest != digest["2"] {
		t.Fatalf("rollback after unrevoke: %v\n%v", err, p)
	}
	if up, _ := c.PlanUnrevoke(ctx, "2", "", now.Add(2*time.Minute)); !up.Noop || !strings.Contains(up.String(), "nothing to do") {
		t.Errorf("unrevoke twice: %+v", up)
	}

	// Facts: labels checked against the receipts the layers hold.
	f, err := c.Facts(ctx, "3")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Sets) != 1 || f.Sets[0].Name != "api" || !f.Sets[0].Known || len(f.Notes) != 0 || strings.Join(f.Sources, ",") != "tags,receipts in its layers" {
		t.Errorf("facts of 3: %+v", f)
	}
}
