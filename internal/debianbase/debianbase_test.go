package debianbase_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/debianbase"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/registrytest"
)

func TestMirrorFromSources(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.sources")
	os.WriteFile(f, []byte("Types: deb\nURIs: http://deb.example.org/debian-security\n\nTypes: deb\nURIs: http://deb.example.org/debian\nSuites: bookworm\n"), 0o644)
	t.Setenv("PIPBAKE_DEBIAN_MIRROR", "")
	if _, err := debianbase.Mirror(); err != nil {
		t.Skipf("no apt sources here: %v", err)
	}
	t.Setenv("PIPBAKE_DEBIAN_MIRROR", "http://mirror.example/debian")
	if m, _ := debianbase.Mirror(); m != "http://mirror.example/debian" {
		t.Errorf("override: %s", m)
	}
}

func TestBaseLayoutPushedToRegistry(t *testing.T) {
	layout := basetest.Layout(t)
	b, err := ociimage.Open(ociimage.LayoutPrefix + layout)
	if err != nil {
		t.Fatal(err)
	}
	if b.Config.OS != "linux" || b.Config.Created.IsZero() {
		t.Errorf("config %+v", b.Config)
	}
	reg := registrytest.Start(t)
	ref := basetest.Push(t, reg.Host+"/debian:bookworm-python")
	r, _ := ociimage.ParseReference(ref)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d != b.Digest {
		t.Errorf("registry has %s, layout %s", d, b.Digest)
	}
}
