package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// entry is one file of a test layer.
type entry struct {
	name, body string
	typ        byte   // tar.TypeReg when 0
	link       string // for symlinks
}

func tarOf(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if e.typ != 0 {
			h.Typeflag, h.Size, h.Linkname = e.typ, 0, e.link
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

func mkLayer(t testing.TB, store *layer.Store, entries []entry) v1.Layer {
	t.Helper()
	data := tarOf(t, entries)
	r, err := store.Build(func(w io.Writer) error { _, err := w.Write(data); return err }, layer.Gzip)
	if err != nil {
		t.Fatal(err)
	}
	return r.Layer
}

// receiptOf makes a receipt file as the agent writes it.
func receiptOf(t testing.TB, set, rel string, dists ...string) []byte {
	t.Helper()
	rc := receipt.Receipt{
		Schema: receipt.Schema, Set: set, Release: rel, Created: time.Unix(1700000000, 0).UTC(), Pipbake: "0.1.0+dev", Installer: "native", Compiled: true,
		Lock:        receipt.Lock{Path: "/tmp/pipbake/locks/" + set + ".txt", SHA256: fmt.Sprintf("%064x", len(set)), Format: "requirements"},
		Interpreter: receipt.Interpreter{Path: "/usr/bin/python3", Version: "3.11.2", Implementation: "cpython", Platform: "linux-x86_64"},
	}
	for _, d := range dists {
		n, v, _ := strings.Cut(d, "==")
		rc.Distributions = append(rc.Distributions, receipt.Distribution{Name: n, Version: v, Wheel: n + "-" + v + "-py3-none-any.whl", SHA256: fmt.Sprintf("%064x", len(d))})
	}
	data, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sbomOf(n int) string {
	comps := make([]string, n)
	for i := range comps {
		comps[i] = fmt.Sprintf(`{"type":"library","name":"d%d"}`, i)
	}
	return `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[` + strings.Join(comps, ",") + `]}`
}

// fixture is an image built as the pipbake-oci builder builds one: a base
// (one layer, with history), a layer of everything else, and one layer
// per set holding its release and receipts.
type fixture struct {
	base      *ociimage.Base
	baseLayer v1.Hash
	restLayer v1.Hash
	img       v1.Image
	receipts  map[string][]byte
	labels    map[string]string
}

func baseImage(t testing.TB) v1.Image {
	t.Helper()
	store := &layer.Store{Dir: t.TempDir()}
	l := mkLayer(t, store, []entry{{name: "etc/os-release", body: "ID=debian\n"}, {name: "usr/bin/python3", body: "#!python"}})
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "debootstrap bookworm"}})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(1600000000, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// build assembles the image on base with the repo's own image code
// (internal/layer, ociimage.Labels and ociimage.Assemble); tamper may
// change the labels before they are set.
func build(t testing.TB, base *ociimage.Base, tamper func(map[string]string)) *fixture {
	t.Helper()
	store := &layer.Store{Dir: t.TempDir()}
	f := &fixture{base: base, receipts: map[string][]byte{
		"api":   receiptOf(t, "api", "r1", "blinker==1.9.0", "flask==3.1.3", "werkzeug==3.1.8"),
		"hello": receiptOf(t, "hello", "r1", "hello==0.1.0"),
	}}
	bl, _ := base.Image.Layers()
	f.baseLayer, _ = bl[0].Digest()
	rest := mkLayer(t, store, []entry{{name: "etc/hello.conf", body: "x"}})
	f.restLayer, _ = rest.Digest()
	layers := []ociimage.Layer{{Layer: rest, CreatedBy: "pipbake-oci: provisioners (outside the pipbake sets)"}}
	var sets []ociimage.SetReceipt
	for _, set := range []string{"api", "hello"} {
		root := "opt/" + set
		l := mkLayer(t, store, []entry{
			{name: root + "/current", typ: tar.TypeSymlink, link: "releases/r1"},
			{name: root + "/releases/r1/pipbake-receipt.json", body: string(f.receipts[set])},
			{name: "var/lib/pipbake/receipts/" + set + ".cdx.json", body: sbomOf(len(set))},
			{name: "var/lib/pipbake/receipts/" + set + ".json", body: string(f.receipts[set])},
		})
		layers = append(layers, ociimage.Layer{Layer: l, CreatedBy: fmt.Sprintf("pipbake-oci: set %s (release %s, %s)", set, "r1", "/"+root)})
		sr, err := ociimage.ParseReceipt(f.receipts[set])
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, sr)
	}
	labels, err := ociimage.Labels("web", "", sets)
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(labels)
	}
	f.labels = labels
	f.img, err = ociimage.Assemble(base, ociimage.Spec{
		Layers: layers, Created: time.Unix(1700000100, 0), Annotations: labels, Version: "r1",
		Config: ociimage.Config{Labels: labels, Entrypoint: []string{"/opt/hello/current/bin/hello"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkReport checks what inspect says of the fixture.
func checkReport(t *testing.T, f *fixture, rep *Report) {
	t.Helper()
	d, _ := f.img.Digest()
	if rep.Digest != d.String() || rep.Family != "web" || rep.Release != "r1" || rep.SetsTag != "api@r1,hello@0.1.0" {
		t.Errorf("report %+v", rep)
	}
	if rep.Created != "2023-11-14T22:15:00Z" {
		t.Errorf("created %q", rep.Created)
	}
	if rep.LockSHA256 != f.labels["pipbake:lock-sha256"] || rep.ReceiptSHA256 != f.labels["pipbake:receipt-sha256"] || len(rep.LockSHA256) != 64 {
		t.Errorf("digests %q %q, labels %v", rep.LockSHA256, rep.ReceiptSHA256, f.labels)
	}
	if rep.Consistent == nil || !*rep.Consistent {
		t.Errorf("receipts and labels should agree: %v %q", rep.Consistent, rep.Notes)
	}
	if len(rep.Sets) != 2 {
		t.Fatalf("sets %+v", rep.Sets)
	}
	api, hello := rep.Sets[0], rep.Sets[1]
	if api.Name != "api" || api.Version != "r1" || api.Root != "/opt/api" || api.Release != "r1" || api.Python != "3.11.2" || api.SBOMComponents != 3 {
		t.Errorf("api %+v", api)
	}
	var dists []string
	for _, d := range api.Distributions {
		dists = append(dists, d.Name+"=="+d.Version)
	}
	if !slices.Equal(dists, []string{"blinker==1.9.0", "flask==3.1.3", "werkzeug==3.1.8"}) {
		t.Errorf("api distributions %q", dists)
	}
	if hello.Name != "hello" || hello.Version != "0.1.0" || len(hello.Distributions) != 1 || hello.Lock == nil || hello.Lock.SHA256 != fmt.Sprintf("%064x", 5) {
		t.Errorf("hello %+v", hello)
	}
	if hello.ReceiptSHA256 == "" || hello.ReceiptSHA256 == api.ReceiptSHA256 {
		t.Errorf("receipt digests %q %q", hello.ReceiptSHA256, api.ReceiptSHA256)
	}
	var out bytes.Buffer
	if err := Print(&out, rep); err != nil {
		t.Fatal(err)
	}
	printed := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"family web", "set hello 0.1.0", "flask 3.1.3", "the receipts agree with the tags", "sbom CycloneDX, 3 components", "root /opt/api"} {
		if !strings.Contains(printed, want) {
			t.Errorf("printed report lacks %q:\n%s", want, out.String())
		}
	}
}

// logged is an in-process registry that records the paths asked of it.
type logged struct {
	mu    sync.Mutex
	paths []string
	h     http.Handler
}

func (l *logged) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.paths = append(l.paths, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	l.h.ServeHTTP(w, r)
}

func (l *logged) asked(digest v1.Hash) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.paths, func(p string) bool {
		return strings.HasPrefix(p, "GET ") && strings.HasSuffix(p, "/blobs/"+digest.String())
	})
}

func startRegistry(t *testing.T) (*logged, string) {
	reg := &logged{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return reg, u.Host
}

var noAuth = authn.NewMultiKeychain()

// TestInspectRegistryAndLayout: an image built by the repo's image code,
// pushed to an in-process registry and written as an OCI layout, is
// inspected from both without reading its base's layer (or, its receipts
// being in the set layers, its other layer).
func TestInspectRegistryAndLayout(t *testing.T) {
	reg, host := startRegistry(t)
	baseRef := host + "/library/debian:bookworm"
	ref, _ := ociimage.ParseReference(baseRef)
	if err := remote.Write(ref, baseImage(t)); err != nil {
		t.Fatal(err)
	}
	base, err := ociimage.Open(baseRef, ociimage.WithKeychain(noAuth))
	if err != nil {
		t.Fatal(err)
	}
	f := build(t, base, nil)
	if _, _, err := ociimage.Push(f.img, host+"/web/app:r1", ociimage.WithKeychain(noAuth)); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	reg.paths = nil
	reg.mu.Unlock()

	rep, err := Inspect(context.Background(), host+"/web/app:r1", Options{Keychain: noAuth})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, f, rep)
	if rep.Kind != KindImage || rep.Base == nil || rep.Base.Name != baseRef || rep.Base.Digest != base.Digest.String() {
		t.Errorf("kind %s, base %+v", rep.Kind, rep.Base)
	}
	if reg.asked(f.baseLayer) || reg.asked(f.restLayer) {
		t.Errorf("inspect pulled the base's or the other layer: %q", reg.paths)
	}

	// The same image as an OCI layout, without its base layer's blob.
	dir := filepath.Join(t.TempDir(), "image")
	if err := ociimage.WriteLayout(dir, f.img, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", f.baseLayer.Hex)); err != nil {
		t.Fatal(err)
	}
	rep, err = Inspect(context.Background(), ociimage.LayoutPrefix+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, f, rep)
	d, _ := f.img.Digest()
	if rep, err = Inspect(context.Background(), ociimage.LayoutPrefix+dir+"@"+d.String(), Options{}); err != nil || rep.Family != "web" {
		t.Errorf("by digest: %v", err)
	}
	data, _ := json.Marshal(rep)
	if !strings.Contains(string(data), `"distributions":[{"name":"blinker","version":"1.9.0"`) {
		t.Errorf("json: %s", data)
	}
}

// TestInspectTellsTamperedLabels: labels that do not say what the
// receipts in the image do are reported.
func TestInspectTellsTamperedLabels(t *testing.T) {
	base := &ociimage.Base{Image: baseImage(t), Name: "oci-layout:/somewhere"}
	base.Digest, _ = base.Image.Digest()
	f := build(t, base, func(l map[string]string) { l["pipbake:lock-sha256"] = strings.Repeat("0", 64) })
	dir := filepath.Join(t.TempDir(), "image")
	if err := ociimage.WriteLayout(dir, f.img, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(context.Background(), ociimage.LayoutPrefix+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Consistent == nil || *rep.Consistent || !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "pipbake:lock-sha256 is \"0000") }) {
		t.Errorf("consistent %v, notes %q", rep.Consistent, rep.Notes)
	}
	if rep.Base == nil || rep.Base.Name != "" || rep.Base.Digest == "" {
		t.Errorf("a local base: %+v", rep.Base)
	}
	var out bytes.Buffer
	Print(&out, rep)
	if !strings.Contains(out.String(), "DISAGREE") || !strings.Contains(out.String(), "(a local image)") {
		t.Errorf("printed:\n%s", out.String())
	}
}

// TestSetLayerHistoryFormat: inspect finds set layers by the history
// entry builder/oci writes for them; this fails when that format changes
// without inspect.
func TestSetLayerHistoryFormat(t *testing.T) {
	src, err := os.ReadFile("../../builder/oci/layer_jobs.go")
	if err != nil {
		t.Skipf("builder source: %v", err)
	}
	const format = `fmt.Sprintf("pipbake-oci: set %s (release %s, %s)", st.Name, st.Release, "/"+st.Root)`
	if !strings.Contains(string(src), format) {
		t.Fatalf("builder/oci/layer_jobs.go no longer writes %s; update parseSetLayer", format)
	}
	if !strings.Contains(string(src), `"pipbake-oci: provisioners (outside the pipbake sets)"`) {
		t.Fatal("builder/oci/layer_jobs.go no longer names its other layer \"pipbake-oci: ...\"")
	}
	set, rel, root, ok := parseSetLayer(fmt.Sprintf("pipbake-oci: set %s (release %s, %s)", "api", "2026.1", "/opt/api"))
	if !ok || set != "api" || rel != "2026.1" || root != "/opt/api" {
		t.Errorf("parsed %q %q %q %v", set, rel, root, ok)
	}
}
