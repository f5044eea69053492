package npm_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// TestTarballArchiveBesideApps: a tar archive of tarballs (the Packer
// provisioner's bundle) may also hold other .tgz files, such as two sets'
// apps of the same file name in their own folders: only TarballFile
// names (name@version.tgz) are packages' tarballs. It failed before with
// "app-1.0.0.tgz appears twice".
func TestTarballArchiveBesideApps(t *testing.T) {
	pkg := npmtest.Tgz(t, pj("a", "1.0.0"))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"npm/a@1.0.0.tgz", pkg}, {"locks/0-web/app-1.0.0.tgz", []byte("app one")}, {"locks/1-api/app-1.0.0.tgz", []byte("app two")}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "bundle.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := npm.OpenTarballs(p)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if !tb.Has("a@1.0.0.tgz") || tb.Has("app-1.0.0.tgz") {
		t.Errorf("has a@1.0.0.tgz %v, app-1.0.0.tgz %v", tb.Has("a@1.0.0.tgz"), tb.Has("app-1.0.0.tgz"))
	}
	if data, err := tb.Read("a@1.0.0.tgz"); err != nil || !bytes.Equal(data, pkg) {
		t.Errorf("read: %v", err)
	}
}
