package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// layoutWith writes an image of the base and the given set layers (each
// named by its history entry) as a layout and returns its ref.
func layoutWith(t *testing.T, labels map[string]string, layers map[string][]entry) (string, string) {
	t.Helper()
	store := &layer.Store{Dir: t.TempDir()}
	base := &ociimage.Base{Image: baseImage(t), Name: "debian:bookworm"}
	base.Digest, _ = base.Image.Digest()
	var ls []ociimage.Layer
	for _, createdBy := range sortedKeys(layers) {
		ls = append(ls, ociimage.Layer{Layer: mkLayer(t, store, layers[createdBy]), CreatedBy: createdBy})
	}
	img, err := ociimage.Assemble(base, ociimage.Spec{Layers: ls, Annotations: labels, Config: ociimage.Config{Labels: labels}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	if err := ociimage.WriteLayout(dir, img, ""); err != nil {
		t.Fatal(err)
	}
	return ociimage.LayoutPrefix + dir, dir
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestInspectHostileLayers: paths that are not exactly a receipt's, links
// and folders at a receipt's path are not read; a receipt over the limit
// is an error naming it; strings with control characters print escaped.
func TestInspectHostileLayers(t *testing.T) {
	evil := strings.Replace(string(receiptOf(t, "api", "r1", "flask==3.1.3")), `"name": "flask"`, `"name": "flask\u001b[2J\u0007"`, 1)
	labels := map[string]string{"pipbake:family": "web", "pipbake:release": "r1", "pipbake:sets": "api@r1,hello@r1,other@r1"}
	ref, _ := layoutWith(t, labels, map[string][]entry{
		"pipbake-oci: set api (release r1, /opt/api)": {
			{name: "../../var/lib/pipbake/receipts/hello.json", body: string(receiptOf(t, "hello", "r1"))},
			{name: "var/lib/pipbake/receipts/../receipts/other.json", body: string(receiptOf(t, "other", "r1"))},
			{name: "var/lib/pipbake/receipts/sub/api.json", body: "{}"},
			{name: "var/lib/pipbake/receipts/api.json", body: evil},
		},
		"pipbake-oci: set hello (release r1, /opt/hello)": {
			{name: "var/lib/pipbake/receipts/hello.json", typ: tar.TypeSymlink, link: "/etc/shadow"},
		},
		"pipbake-oci: set other (release r1, /opt/other)": {
			{name: "var/lib/pipbake/receipts/other.json", typ: tar.TypeDir},
		},
	})
	rep, err := Inspect(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, s := range rep.Sets {
		if s.Lock != nil {
			found = append(found, s.Name)
		}
	}
	if !slices.Equal(found, []string{"api"}) {
		t.Errorf("receipts read for %q, want api only: %+v", found, rep.Sets)
	}
	var out bytes.Buffer
	Print(&out, rep)
	if strings.ContainsAny(out.String(), "\x1b\x07") || !strings.Contains(out.String(), `"flask\x1b[2J\a"`) {
		t.Errorf("control characters reached the output:\n%q", out.String())
	}

	big := strings.Repeat(" ", maxReceipt+1)
	ref, _ = layoutWith(t, labels, map[string][]entry{
		"pipbake-oci: set api (release r1, /opt/api)": {{name: "var/lib/pipbake/receipts/api.json", body: big}},
	})
	if _, err := Inspect(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), "var/lib/pipbake/receipts/api.json is 16777217 bytes") {
		t.Errorf("a receipt over the limit: %v", err)
	}
}

// TestInspectHostileLayout: a blob that does not match its digest, a
// blob that is a link, an oversized index or config are errors naming
// them.
func TestInspectHostileLayout(t *testing.T) {
	labels := map[string]string{"pipbake:family": "web", "pipbake:release": "r1", "pipbake:sets": "api@r1"}
	layers := map[string][]entry{"pipbake-oci: set api (release r1, /opt/api)": {{name: "var/lib/pipbake/receipts/api.json", body: string(receiptOf(t, "api", "r1"))}}}
	ref, dir := layoutWith(t, labels, layers)
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	// The set layer is the largest blob but the base's; find it by
	// reading the manifest.
	m := manifestOf(t, dir)
	setLayer := filepath.Join(dir, "blobs", "sha256", m.Layers[len(m.Layers)-1].Digest.Hex)
	data, _ := os.ReadFile(setLayer)
	data[len(data)/2] ^= 0xff
	os.Chmod(setLayer, 0o644)
	os.WriteFile(setLayer, data, 0o644)
	if _, err := Inspect(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), m.Layers[len(m.Layers)-1].Digest.String()) {
		t.Errorf("a corrupt set layer: %v", err)
	}
	if len(blobs) == 0 {
		t.Fatal("no blobs")
	}

	ref, dir = layoutWith(t, labels, layers)
	m = manifestOf(t, dir)
	cfg := filepath.Join(dir, "blobs", "sha256", m.Config.Digest.Hex)
	os.Rename(cfg, cfg+".real")
	os.Symlink(cfg+".real", cfg)
	if _, err := Inspect(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a config blob that is a link: %v", err)
	}

	// An index.json over the limit.
	ref, dir = layoutWith(t, labels, layers)
	os.WriteFile(filepath.Join(dir, "index.json"), bytes.Repeat([]byte(" "), maxManifest+1), 0o644)
	if _, err := Inspect(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), "index.json is larger") {
		t.Errorf("a huge index.json: %v", err)
	}

	// A manifest whose config claims a terabyte: refused before reading.
	ref, dir = layoutWith(t, labels, layers)
	m = manifestOf(t, dir)
	m.Config.Size = 1 << 40
	writeManifest(t, dir, m)
	if _, err := Inspect(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), "1099511627776 bytes, more than") {
		t.Errorf("a config of a terabyte: %v", err)
	}
	// A layer digest that is not sha256 hex: no path is made of it.
	m.Config.Size = 10
	m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: "../../../../etc/passwd"}
	writeManifest(t, dir, m)
	if _, err := Inspect(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), "non-hex character") {
		t.Errorf("a digest with a path in it: %v", err)
	}
}

func manifestOf(t *testing.T, dir string) *v1.Manifest {
	t.Helper()
	idx := indexOf(t, dir)
	data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", idx.Manifests[0].Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func indexOf(t *testing.T, dir string) *v1.IndexManifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// writeManifest stores m in the layout and points index.json at it.
func writeManifest(t *testing.T, dir string, m *v1.Manifest) {
	t.Helper()
	data, _ := json.Marshal(m)
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	os.WriteFile(filepath.Join(dir, "blobs", "sha256", h), data, 0o644)
	idx := indexOf(t, dir)
	idx.Manifests[0].Digest = v1.Hash{Algorithm: "sha256", Hex: h}
	idx.Manifests[0].Size = int64(len(data))
	idata, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), idata, 0o644)
}

// memSource serves blobs from memory.
type memSource map[v1.Hash][]byte

func (m memSource) blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	data, ok := m[d.Digest]
	if !ok {
		return nil, fmt.Errorf("no blob %s", d.Digest)
	}
	return verified(io.NopCloser(bytes.NewReader(data)), d)
}

func (m memSource) manifest(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	return m.blob(ctx, d)
}

// FuzzScanLayer: whatever a layer holds, scanning it does not panic, and
// what it returns is keyed by a plain set name and within the limit.
func FuzzScanLayer(f *testing.F) {
	f.Add(tarOf(f, []entry{{name: "var/lib/pipbake/receipts/api.json", body: "{}"}, {name: "var/lib/pipbake/receipts/api.cdx.json", body: "{}"}}))
	f.Add(tarOf(f, []entry{{name: "./var/lib/pipbake/receipts/../x.json", body: "{}"}, {name: "/var/lib/pipbake/receipts/a.json", body: "{}"}}))
	f.Add(tarOf(f, []entry{{name: "var/lib/pipbake/receipts/.json", body: "x"}, {name: "var/lib/pipbake/receipts/l.json", typ: tar.TypeSymlink, link: "/etc/passwd"}}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sum := sha256.Sum256(data)
		d := v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: int64(len(data)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
		receipts, sboms := map[string][]byte{}, map[string][]byte{}
		scanLayer(context.Background(), memSource{d.Digest: data}, d, func(string) bool { return true }, receipts, sboms)
		for _, m := range []map[string][]byte{receipts, sboms} {
			for set, v := range m {
				if set == "" || strings.ContainsAny(set, "/\x00") || set == "." || set == ".." || len(v) > maxReceipt {
					t.Fatalf("kept %q (%d bytes)", set, len(v))
				}
			}
		}
	})
}

func desc(mt types.MediaType, data []byte) v1.Descriptor {
	sum := sha256.Sum256(data)
	return v1.Descriptor{MediaType: mt, Size: int64(len(data)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
}

// FuzzManifestAndConfig: whatever an image's index, manifest and config
// say (their blobs in place, the config's named by the manifest), inspect
// does not panic, and its printed report holds no control character.
func FuzzManifestAndConfig(f *testing.F) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"pipbake:family":"web","pipbake:release":"r1","pipbake:sets":"api@1,\u001b[31m@2"}},"history":[{"created_by":"pipbake-oci: set api (release r1, /opt/api)"},{"empty_layer":true}]}`)
	cd := desc(types.OCIConfigJSON, cfg)
	man, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cd, Layers: []v1.Descriptor{desc(types.OCILayer, []byte("x"))},
		Annotations: map[string]string{"org.opencontainers.image.base.name": "a\x07b"}})
	f.Add(man, cfg)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+cd.Digest.Hex+`","size":1}]}`), cfg)
	f.Add([]byte(`{"layers":[{"digest":"sha256:../x","size":-1}]}`), []byte(`{"history":[{"created_by":"pipbake-oci: set "}]}`))
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		src := memSource{}
		c := desc(types.OCIConfigJSON, config)
		src[c.Digest] = config
		mt := types.OCIManifestSchema1
		if bytes.Contains(manifest, []byte(`"manifests"`)) {
			mt = types.OCIImageIndex
		}
		m := desc(mt, manifest)
		src[m.Digest] = manifest
		rep := &Report{Kind: KindLayout, Ref: "fuzz"}
		d, err := resolveIndex(context.Background(), src, m, nil, "fuzz")
		if err != nil {
			return
		}
		if err := inspectImage(context.Background(), src, d, rep); err != nil {
			return
		}
		var out bytes.Buffer
		if err := Print(&out, rep); err != nil {
			t.Fatal(err)
		}
		for _, r := range out.String() {
			if r < 0x20 && r != '\n' || r == 0x7f {
				t.Fatalf("control character %q in the printed report:\n%q", r, out.String())
			}
		}
	})
}
