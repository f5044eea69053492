package inspect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// layoutSource reads the blobs of an OCI layout folder.
type layoutSource struct{ dir string }

// blob opens blobs/sha256/<hex>: a regular file (not a link) of the
// descriptor's size.
func (l layoutSource) blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 || strings.Trim(d.Digest.Hex, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("digest %q: only sha256 digests are read", d.Digest)
	}
	p := filepath.Join(l.dir, "blobs", "sha256", d.Digest.Hex)
	st, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", l.dir, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("layout %s: blob %s is not a regular file", l.dir, d.Digest)
	}
	if st.Size() != d.Size {
		return nil, fmt.Errorf("layout %s: blob %s is %d bytes, its descriptor says %d", l.dir, d.Digest, st.Size(), d.Size)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", l.dir, err)
	}
	return verified(f, d)
}

func (l layoutSource) manifest(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	return l.blob(ctx, d)
}

// inspectLayout reads "oci-layout:DIR[@sha256:...]".
func inspectLayout(ctx context.Context, ref string, o Options) (*Report, error) {
	spec := strings.TrimPrefix(ref, ociimage.LayoutPrefix)
	dir, digest, _ := strings.Cut(spec, "@")
	rep := &Report{Kind: KindLayout, Ref: ref}
	what := "OCI layout " + dir
	f, err := os.Open(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", what, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("inspect %s: index.json: %w", what, err)
	}
	if len(data) > maxManifest {
		return nil, fmt.Errorf("inspect %s: index.json is larger than %d bytes", what, maxManifest)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("inspect %s: index.json: %w", what, err)
	}
	src := layoutSource{dir: dir}
	var d v1.Descriptor
	if digest != "" {
		h, err := v1.NewHash(digest)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", ref, err)
		}
		found := false
		for _, m := range idx.Manifests {
			if m.Digest == h {
				d, found = m, true
			}
		}
		if !found {
			return nil, fmt.Errorf("inspect %s: index.json does not list %s", what, h)
		}
	} else if d, err = pickManifest(idx, o.Platform, what+" index.json"); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if d, err = resolveIndex(ctx, src, d, o.Platform, what); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", what, err)
	}
	if err := inspectImage(ctx, src, d, rep); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", what, err)
	}
	return rep, nil
}

// registrySource reads blobs from a repository.
type registrySource struct {
	repo name.Repository
	opts []remote.Option
}

func (r registrySource) blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	l, err := remote.Layer(r.repo.Digest(d.Digest.String()), r.opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	return verified(rc, d)
}

func (r registrySource) manifest(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if d.Size < 0 || d.Size > maxManifest {
		return nil, fmt.Errorf("%d bytes, more than %d", d.Size, maxManifest)
	}
	desc, err := remote.Get(r.repo.Digest(d.Digest.String()), r.opts...)
	if err != nil {
		return nil, err
	}
	return verified(io.NopCloser(bytes.NewReader(desc.Manifest)), d)
}

// inspectRegistry reads an image in a registry: its manifest and config,
// and its pipbake layers (never the base's).
func inspectRegistry(ctx context.Context, ref string, o Options) (*Report, error) {
	var nopts []name.Option
	host, _, _ := strings.Cut(ref, "/")
	for _, h := range o.Insecure {
		if h == host {
			nopts = append(nopts, name.Insecure)
		}
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("inspect %q: not an image reference, an oci-layout:DIR, an AMI id or a folder: %w", ref, err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = ociimage.Keychain(ctx)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if o.Transport != nil {
		ropts = append(ropts, remote.WithTransport(o.Transport))
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	if len(desc.Manifest) > maxManifest {
		return nil, fmt.Errorf("inspect %s: manifest of %d bytes, more than %d", ref, len(desc.Manifest), maxManifest)
	}
	src := registrySource{repo: r.Context(), opts: ropts}
	d := desc.Descriptor
	d.Size = int64(len(desc.Manifest))
	rep := &Report{Kind: KindImage, Ref: ref}
	if d, err = resolveIndex(ctx, src, d, o.Platform, ref); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	if err := inspectImage(ctx, src, d, rep); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	return rep, nil
}
