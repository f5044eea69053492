package ociimage_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// assembled returns the created time and manifest annotations of an image
// assembled on base with no created time given.
func assembled(t *testing.T, base *ociimage.Base) (time.Time, map[string]string) {
	t.Helper()
	img, err := ociimage.Assemble(base, ociimage.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return cf.Created.Time, m.Annotations
}

// TestCreatedTellsReleasesApart: without SOURCE_DATE_EPOCH an image's
// created time is the bake time, not its base's (two releases on one base
// used to show the same time); with it, that time.
func TestCreatedTellsReleasesApart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "base")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(baseImage(t)); err != nil {
		t.Fatal(err)
	}
	base, err := ociimage.Open(ociimage.LayoutPrefix+dir, ociimage.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		t.Fatal(err)
	}
	baseCreated := base.Config.Created.Time

	t.Setenv("SOURCE_DATE_EPOCH", "")
	before := time.Now().Add(-time.Second)
	created, ann := assembled(t, base)
	if created.Equal(baseCreated) || created.Before(before) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("created %v without SOURCE_DATE_EPOCH: want the bake time (around %v), not the base's %v", created, before, baseCreated)
	}
	if ann[ociimage.AnnotationCreated] != created.UTC().Format(time.RFC3339) {
		t.Errorf("created annotation %q, config %v", ann[ociimage.AnnotationCreated], created)
	}

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	created, ann = assembled(t, base)
	if !created.Equal(time.Unix(1700000000, 0)) || ann[ociimage.AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("SOURCE_DATE_EPOCH=1700000000: created %v, annotation %q", created, ann[ociimage.AnnotationCreated])
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := ociimage.Assemble(base, ociimage.Spec{}); err == nil {
		t.Error("SOURCE_DATE_EPOCH=yesterday accepted")
	}
}

// TestBaseNameNotAHostPath: org.opencontainers.image.base.name records a
// registry reference as written, and nothing for a local layout or docker
// archive (it used to record oci-layout:/root/...).
func TestBaseNameNotAHostPath(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	kc := ociimage.WithKeychain(authn.NewMultiKeychain())
	dir := filepath.Join(t.TempDir(), "root", "images", "base")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(baseImage(t)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "base.tar")
	tag, _ := name.NewTag("example.com/base:1")
	if err := tarball.WriteToFile(file, tag, baseImage(t)); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{ociimage.LayoutPrefix + dir, ociimage.DockerArchivePrefix + file} {
		base, err := ociimage.Open(ref, kc)
		if err != nil {
			t.Fatal(err)
		}
		_, ann := assembled(t, base)
		if v, ok := ann[ociimage.AnnotationBaseName]; ok {
			t.Errorf("base %s: base.name annotation %q records a host path", ref, v)
		}
		if ann[ociimage.AnnotationBaseDigest] != base.Digest.String() {
			t.Errorf("base %s: base.digest %q, want %s", ref, ann[ociimage.AnnotationBaseDigest], base.Digest)
		}
	}
	// A registry reference is recorded as the user wrote it.
	img := baseImage(t)
	d, _ := img.Digest()
	for _, ref := range []string{"registry.example.com/team/debian:bookworm", "debian:bookworm", "registry.example.com/debian@" + d.String()} {
		_, ann := assembled(t, &ociimage.Base{Image: img, Name: ref, Digest: d, Config: &v1.ConfigFile{}})
		if ann[ociimage.AnnotationBaseName] != ref {
			t.Errorf("base %s: base.name %q", ref, ann[ociimage.AnnotationBaseName])
		}
	}
}
