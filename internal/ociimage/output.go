package ociimage

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushStats counts what a push sent.
type PushStats struct {
	// BlobUploads counts blob uploads started (layers and config the
	// registry did not have already).
	BlobUploads int64
}

// Push writes img to target and returns the pushed reference by digest
// (registry/repo@sha256:...). Blobs the registry already has are not sent.
func Push(img v1.Image, target string, opts ...Option) (name.Digest, PushStats, error) {
	o := makeOptions(opts)
	var stats PushStats
	ref, err := name.ParseReference(target, o.nameOpts(target)...)
	if err != nil {
		return name.Digest{}, stats, fmt.Errorf("target %q: %w", target, err)
	}
	base := o.transport
	if base == nil {
		base = remote.DefaultTransport
	}
	o.transport = &countingTransport{next: base, uploads: &stats.BlobUploads}
	if err := remote.Write(ref, img, o.remoteOpts()...); err != nil {
		return name.Digest{}, stats, fmt.Errorf("push %s: %w", target, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, stats, err
	}
	dref, err := name.NewDigest(ref.Context().String()+"@"+d.String(), o.nameOpts(target)...)
	return dref, stats, err
}

type countingTransport struct {
	next    http.RoundTripper
	uploads *int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/blobs/uploads") && r.URL.Query().Get("mount") == "" {
		atomic.AddInt64(t.uploads, 1)
	}
	return t.next.RoundTrip(r)
}

// WriteLayout writes img as the only image of the OCI layout dir, named
// refName (org.opencontainers.image.ref.name) when given. The layout is
// built beside dir and swapped into place, so dir holds the old layout or
// the new one, never a half-written one; leftovers of an interrupted
// write are removed first.
func WriteLayout(dir string, img v1.Image, refName string) error {
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	CleanLayoutLeftovers(dir)
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	var lopts []layout.Option
	if refName != "" {
		lopts = append(lopts, layout.WithAnnotations(map[string]string{AnnotationRefName: refName}))
	}
	if err := p.AppendImage(img, lopts...); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		old := filepath.Join(parent, "."+base+".old-"+filepath.Base(tmp))
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir)
			return err
		}
		ok = true
		return os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	ok = true
	return nil
}

// CleanLayoutLeftovers removes what an interrupted WriteLayout of dir
// left beside it.
func CleanLayoutLeftovers(dir string) {
	parent, base := filepath.Dir(filepath.Clean(dir)), filepath.Base(filepath.Clean(dir))
	for _, pat := range []string{"." + base + ".tmp-*", "." + base + ".old-*"} {
		m, _ := filepath.Glob(filepath.Join(parent, pat))
		for _, p := range m {
			os.RemoveAll(p)
		}
	}
}

func syncTree(dir string) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
