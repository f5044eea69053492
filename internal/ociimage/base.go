// Package ociimage reads base images and writes built ones, over
// go-containerregistry: a base from a registry, an OCI layout or a docker
// archive, with pulled blobs cached by digest; the new image's config,
// history, labels and annotations from one epoch; and the result pushed
// to a registry or written as an OCI layout that appears whole or not at
// all.
package ociimage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/cache"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Reference prefixes of bases that are not in a registry.
const (
	LayoutPrefix        = "oci-layout:"
	DockerArchivePrefix = "docker-archive:"
)

// Base is an opened base image.
type Base struct {
	Image v1.Image
	// Name is the reference as given; Digest the image manifest's digest.
	Name   string
	Digest v1.Hash
	Config *v1.ConfigFile
}

// Option configures registry access and caching.
type Option func(*options)

type options struct {
	platform  v1.Platform
	insecure  []string
	keychain  authn.Keychain
	cacheDir  string
	transport http.RoundTripper
	ctx       context.Context
}

// WithPlatform chooses the image of a multi-platform base (default
// linux/amd64).
func WithPlatform(p v1.Platform) Option { return func(o *options) { o.platform = p } }

// WithInsecure lists registries (host[:port]) reached over plain HTTP or
// with unverified TLS.
func WithInsecure(hosts []string) Option { return func(o *options) { o.insecure = hosts } }

// WithKeychain sets where registry credentials come from (default:
// Keychain(), the docker config and ECR).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithCache keeps pulled blobs under dir, by digest.
func WithCache(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithTransport sets the HTTP transport (tests count requests with it).
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithContext bounds registry requests.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

func makeOptions(opts []Option) *options {
	o := &options{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, ctx: context.Background()}
	for _, f := range opts {
		f(o)
	}
	if o.keychain == nil {
		o.keychain = Keychain(o.ctx)
	}
	return o
}

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, err
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	return *p, nil
}

func (o *options) nameOpts(ref string) []name.Option {
	host := ref
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	for _, h := range o.insecure {
		if h == host {
			return []name.Option{name.Insecure}
		}
	}
	return nil
}

func (o *options) remoteOpts() []remote.Option {
	ro := []remote.Option{remote.WithContext(o.ctx), remote.WithAuthFromKeychain(o.keychain), remote.WithPlatform(o.platform)}
	if o.transport != nil {
		ro = append(ro, remote.WithTransport(o.transport))
	}
	return ro
}

// ParseReference parses a registry reference, honouring WithInsecure.
func ParseReference(ref string, opts ...Option) (name.Reference, error) {
	o := makeOptions(opts)
	return name.ParseReference(ref, o.nameOpts(ref)...)
}

// Open opens the base image ref: a registry reference,
// "oci-layout:DIR[@sha256:...]" or "docker-archive:FILE[:tag]".
func Open(ref string, opts ...Option) (*Base, error) {
	o := makeOptions(opts)
	var img v1.Image
	var err error
	switch {
	case strings.HasPrefix(ref, LayoutPrefix):
		img, err = openLayout(strings.TrimPrefix(ref, LayoutPrefix), o.platform)
	case strings.HasPrefix(ref, DockerArchivePrefix):
		img, err = openArchive(strings.TrimPrefix(ref, DockerArchivePrefix))
	default:
		var r name.Reference
		r, err = name.ParseReference(ref, o.nameOpts(ref)...)
		if err != nil {
			return nil, fmt.Errorf("base %q: %w", ref, err)
		}
		img, err = remote.Image(r, o.remoteOpts()...)
	}
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	if o.cacheDir != "" {
		if err := os.MkdirAll(o.cacheDir, 0o755); err != nil {
			return nil, err
		}
		img = cache.Image(img, cache.NewFilesystemCache(o.cacheDir))
	}
	b := &Base{Image: img, Name: ref}
	if b.Digest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	if b.Config, err = img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("base %s: config: %w", ref, err)
	}
	if b.Config.OS != "" && (b.Config.OS != o.platform.OS || b.Config.Architecture != o.platform.Architecture) {
		return nil, fmt.Errorf("base %s is %s/%s, not %s", ref, b.Config.OS, b.Config.Architecture, o.platform)
	}
	return b, nil
}

func openLayout(spec string, platform v1.Platform) (v1.Image, error) {
	dir, dg, _ := strings.Cut(spec, "@")
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	if dg != "" {
		h, err := v1.NewHash(dg)
		if err != nil {
			return nil, err
		}
		if img, err := idx.Image(h); err == nil {
			if _, err := img.Manifest(); err == nil {
				return img, nil
			}
		}
		child, err := idx.ImageIndex(h)
		if err != nil {
			return nil, fmt.Errorf("no image %s in %s", h, dir)
		}
		return pick(child, platform)
	}
	return pick(idx, platform)
}

// pick returns the index's image for platform (or its only image).
func pick(idx v1.ImageIndex, platform v1.Platform) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var cands []v1.Descriptor
	for _, d := range m.Manifests {
		if d.Platform == nil || d.Platform.Satisfies(platform) {
			cands = append(cands, d)
		}
	}
	for _, d := range cands {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if img, err := pick(child, platform); err == nil {
				return img, nil
			}
			continue
		}
		if d.MediaType.IsImage() {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %s among %d manifests", platform, len(m.Manifests))
}

func openArchive(spec string) (v1.Image, error) {
	file, tag := spec, ""
	// FILE may contain ':'; a tag is what follows the last ':' after the
	// last '/'.
	if i := strings.LastIndexByte(spec, ':'); i > strings.LastIndexByte(spec, '/') {
		if _, err := os.Stat(spec); err != nil {
			file, tag = spec[:i], spec[i+1:]
		}
	}
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	var t *name.Tag
	if tag != "" {
		tt, err := name.NewTag(tag)
		if err != nil {
			return nil, err
		}
		t = &tt
	}
	return tarball.ImageFromPath(filepath.Clean(file), t)
}

// IsNotFound reports a missing image or repository.
func IsNotFound(err error) bool {
	var te interface{ StatusCode() int }
	return errors.As(err, &te) && te.StatusCode() == http.StatusNotFound
}
