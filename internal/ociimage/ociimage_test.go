package ociimage_test

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range ociimage.SortedKeys(files) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(1600000000, 0)})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	return buf.Bytes()
}

// baseImage makes a one-layer OCI image.
func baseImage(t *testing.T) v1.Image {
	t.Helper()
	data := tarOf(t, map[string]string{"etc/os-release": "ID=test\n"})
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), l)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(1600000000, 0).UTC()}
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func receiptJSON(set, release, lockSHA string) []byte {
	return []byte(`{"schema":1,"set":"` + set + `","release":"` + release + `","lock":{"sha256":"` + lockSHA + `"},` +
		`"distributions":[{"name":"` + set + `","version":"1.2.3"}]}`)
}

func TestAssemblePushLayoutReproducible(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host := u.Host
	baseRef := host + "/test/base:1"
	ref, _ := ociimage.ParseReference(baseRef)
	if err := remote.Write(ref, baseImage(t)); err != nil {
		t.Fatal(err)
	}
	opts := []ociimage.Option{ociimage.WithKeychain(authn.NewMultiKeychain()), ociimage.WithCache(filepath.Join(t.TempDir(), "pulled"))}

	store := &layer.Store{Dir: t.TempDir()}
	build := func(appBody string) (v1.Image, *ociimage.Base) {
		base, err := ociimage.Open(baseRef, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var layers []ociimage.Layer
		for _, files := range []map[string]string{
			{"opt/api/app.py": "api"},
			{"opt/hello/app.py": appBody},
			{"etc/passwd": "root"},
		} {
			data := tarOf(t, files)
			r, err := store.Build(func(w io.Writer) error { _, err := w.Write(data); return err }, layer.Gzip)
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, ociimage.Layer{Layer: r.Layer, CreatedBy: "pipbake-oci test"})
		}
		labels, err := ociimage.Labels("web", "", []ociimage.SetReceipt{
			mustReceipt(t, receiptJSON("hello", "r1", strings.Repeat("a", 64))),
			mustReceipt(t, receiptJSON("api", "r1", strings.Repeat("b", 64))),
		})
		if err != nil {
			t.Fatal(err)
		}
		img, err := ociimage.Assemble(base, ociimage.Spec{
			Layers: layers, Created: base.Config.Created.Time, Version: "r1",
			Config: ociimage.Config{Entrypoint: []string{"/opt/hello/current/bin/hello"}, Env: []string{"LANG=C.UTF-8"}, Labels: labels, ExposedPorts: []string{"8080/tcp"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return img, base
	}
	img1, base := build("v1")
	d1, st1, err := ociimage.Push(img1, host+"/test/app:r1")
	if err != nil {
		t.Fatal(err)
	}
	if st1.BlobUploads != 4 { // three layers and the config; the base layer is there
		t.Errorf("first push uploaded %d blobs, want 4", st1.BlobUploads)
	}
	img2, _ := build("v1")
	d2, st2, err := ociimage.Push(img2, host+"/test/app:r1")
	if err != nil {
		t.Fatal(err)
	}
	if d1.DigestStr() != d2.DigestStr() {
		t.Fatalf("same inputs, different digests: %s %s", d1, d2)
	}
	if st2.BlobUploads != 0 {
		t.Errorf("second push uploaded %d blobs", st2.BlobUploads)
	}
	img3, _ := build("v2")
	d3, st3, _ := ociimage.Push(img3, host+"/test/app:r2")
	if d3.DigestStr() == d1.DigestStr() || st3.BlobUploads != 2 { // the hello layer and the config
		t.Errorf("changed one layer: digest %s, %d uploads (want 2)", d3, st3.BlobUploads)
	}

	// Pull it back and check the metadata.
	pulled, err := remote.Image(d1)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := pulled.Manifest()
	if m.MediaType != types.OCIManifestSchema1 || len(m.Layers) != 4 {
		t.Errorf("manifest %s with %d layers", m.MediaType, len(m.Layers))
	}
	want := map[string]string{
		ociimage.AnnotationVersion:    "r1",
		ociimage.AnnotationCreated:    "2020-09-13T12:26:40Z",
		ociimage.AnnotationBaseName:   baseRef,
		ociimage.AnnotationBaseDigest: base.Digest.String(),
	}
	for k, v := range want {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}
	cf, _ := pulled.ConfigFile()
	if cf.Config.Labels["pipbake:sets"] != "api@1.2.3,hello@1.2.3" || cf.Config.Labels["pipbake:family"] != "web" || cf.Config.Labels["pipbake:release"] != "r1" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	if len(cf.Config.Labels["pipbake:receipt-sha256"]) != 64 || len(cf.Config.Labels["pipbake:lock-sha256"]) != 64 {
		t.Errorf("digest labels %v", cf.Config.Labels)
	}
	if strings.Join(cf.Config.Env, " ") != "PATH=/usr/bin:/bin LANG=C.UTF-8" {
		t.Errorf("env %v", cf.Config.Env)
	}
	if !cf.Created.Time.Equal(time.Unix(1600000000, 0)) || len(cf.History) != 4 || !cf.History[3].Created.Time.Equal(time.Unix(1600000000, 0)) {
		t.Errorf("created %v, history %v", cf.Created, cf.History)
	}

	// The layout holds the same image, and reads back as a base.
	out := filepath.Join(t.TempDir(), "out", "image")
	if err := ociimage.WriteLayout(out, img1, "app:r1"); err != nil {
		t.Fatal(err)
	}
	if err := ociimage.WriteLayout(out, img1, "app:r1"); err != nil { // replacing works too
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("leftovers beside the layout: %v", ents)
	}
	lb, err := ociimage.Open(ociimage.LayoutPrefix+out, ociimage.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		t.Fatal(err)
	}
	if lb.Digest.String() != d1.DigestStr() {
		t.Errorf("layout image %s, pushed %s", lb.Digest, d1.DigestStr())
	}
	if _, err := ociimage.Open(ociimage.LayoutPrefix+out+"@"+d1.DigestStr(), ociimage.WithKeychain(authn.NewMultiKeychain())); err != nil {
		t.Errorf("layout by digest: %v", err)
	}
	if _, err := layout.ImageIndexFromPath(out); err != nil {
		t.Error(err)
	}
}

func mustReceipt(t *testing.T, data []byte) ociimage.SetReceipt {
	t.Helper()
	r, err := ociimage.ParseReceipt(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestECRRegion(t *testing.T) {
	for host, want := range map[string]string{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com":         "eu-west-1",
		"123456789012.dkr.ecr-fips.us-east-1.amazonaws.com":    "us-east-1",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":     "cn-north-1",
		"registry.example.com":                                 "",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.io": "",
	} {
		if got := ociimage.ECRRegion(host); got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
	}
}

func TestOpenDockerArchiveAndPlatform(t *testing.T) {
	img := baseImage(t)
	file := filepath.Join(t.TempDir(), "base.tar")
	tag, _ := name.NewTag("example.com/base:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	kc := ociimage.WithKeychain(authn.NewMultiKeychain())
	b, err := ociimage.Open(ociimage.DockerArchivePrefix+file, kc)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Layers()
	got, _ := b.Image.Layers()
	wd, _ := want[0].DiffID()
	gd, _ := got[0].DiffID()
	if len(got) != 1 || wd != gd || b.Config.OS != "linux" {
		t.Errorf("docker archive: %d layers, %s vs %s", len(got), gd, wd)
	}
	if _, err := ociimage.Open(ociimage.DockerArchivePrefix+file, kc, ociimage.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"})); err == nil {
		t.Error("an amd64 base opened for linux/arm64")
	}
	if _, err := ociimage.ParsePlatform("linux"); err == nil {
		t.Error("platform without an architecture accepted")
	}
}
