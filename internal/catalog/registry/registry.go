// Package registry is the release catalog of one registry repository: its
// images that carry the pipbake:* annotations (on the manifest or index)
// or labels (in the image config), in release order; promoting a tag to a
// release's digest and rolling it back to the previous release's (passing
// over revoked ones); revocation records (OCI artifacts that refer to a
// release); the facts of an image for a diff (its labels and the receipts
// in its layers). It talks to the registry with go-containerregistry.
package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// Catalog is one repository's catalog.
type Catalog struct {
	Repo    name.Repository
	options []remote.Option
}

// New opens repository ref ("host/path"; a tag or digest in it is
// refused). opts carry the keychain (remote.WithAuthFromKeychain) and
// transport; the context is given per call.
func New(ref string, opts ...remote.Option) (*Catalog, error) {
	repo, err := name.NewRepository(ref)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w (give host/path, without a tag or digest)", ref, err)
	}
	return &Catalog{Repo: repo, options: opts}, nil
}

func (c *Catalog) opts(ctx context.Context) []remote.Option {
	return append(append([]remote.Option(nil), c.options...), remote.WithContext(ctx))
}

// Image is one manifest (or index) of the repository, with every tag
// that points at it.
type Image struct {
	Digest    string          `json:"digest"`
	MediaType string          `json:"media_type"`
	Tags      []string        `json:"tags"`
	Created   time.Time       `json:"created,omitzero"`
	Platforms []string        `json:"platforms,omitempty"`
	Release   catalog.Release `json:"release"`
	IsRelease bool            `json:"-"`
	// Revoked is set when the newest revocation record referring to the
	// release revokes it.
	Revoked *catalog.Revocation `json:"revoked,omitempty"`
}

// Label is "family@release (sha256:abcdef123456)", or the digest alone.
func (im *Image) Label() string {
	if im == nil {
		return "(none)"
	}
	d := im.Digest
	if len(d) > 19 {
		d = d[:19]
	}
	if im.IsRelease {
		return fmt.Sprintf("%s (%s)", im.Release, d)
	}
	return d
}

// Images reads every tag of the repository and what it points at, one
// entry per digest, releases first in release order, then the rest by
// digest.
func (c *Catalog) Images(ctx context.Context) ([]Image, error) {
	tags, err := remote.List(c.Repo, c.opts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", c.Repo, err)
	}
	sort.Strings(tags)
	byDigest := map[string]*Image{}
	for _, t := range tags {
		if isFallbackTag(t) {
			continue // an index of the records referring to a manifest
		}
		desc, err := remote.Get(c.Repo.Tag(t), c.opts(ctx)...)
		if err != nil {
			var te *transport.Error
			if errors.As(err, &te) && te.StatusCode == 404 {
				continue // deleted meanwhile
			}
			return nil, fmt.Errorf("read %s:%s: %w", c.Repo, t, err)
		}
		d := desc.Digest.String()
		if im, ok := byDigest[d]; ok {
			im.Tags = append(im.Tags, t)
			continue
		}
		im, err := c.describe(desc)
		if err != nil {
			return nil, fmt.Errorf("read %s:%s: %w", c.Repo, t, err)
		}
		im.Tags = []string{t}
		byDigest[d] = im
	}
	out := make([]Image, 0, len(byDigest))
	for _, im := range byDigest {
		if im.IsRelease {
			if im.Revoked, err = c.revocation(ctx, im.Digest); err != nil {
				return nil, err
			}
		}
		out = append(out, *im)
	}
	sortImages(out)
	return out, nil
}

// isFallbackTag reports whether t is the OCI referrers fallback tag of a
// manifest: sha256-<64 hex digits>.
func isFallbackTag(t string) bool {
	hex, ok := strings.CutPrefix(t, fallbackTagPrefix)
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func sortImages(list []Image) {
	slices.SortStableFunc(list, func(a, b Image) int {
		if a.IsRelease != b.IsRelease {
			if a.IsRelease {
				return -1
			}
			return 1
		}
		if a.IsRelease {
			if a.Release.Family != b.Release.Family {
				return strings.Compare(a.Release.Family, b.Release.Family)
			}
			if n := catalog.Compare(a.Release.Release, a.Created, b.Release.Release, b.Created); n != 0 {
				return n
			}
		}
		return strings.Compare(a.Digest, b.Digest)
	})
}

// describe reads the facts of a manifest: the annotations of the manifest
// or index, over the labels of the image config (an index's first image's).
func (c *Catalog) describe(desc *remote.Descriptor) (*Image, error) {
	im := &Image{Digest: desc.Digest.String(), MediaType: string(desc.MediaType)}
	facts := map[string]string{}
	var img v1.Image
	var annotations map[string]string
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		annotations = m.Annotations
		for _, child := range m.Manifests {
			if child.Platform != nil {
				im.Platforms = append(im.Platforms, child.Platform.String())
			}
			if img == nil && child.MediaType.IsImage() {
				if img, err = idx.Image(child.Digest); err != nil {
					return nil, err
				}
			}
		}
	} else {
		var err error
		if img, err = desc.Image(); err != nil {
			return nil, err
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		annotations = m.Annotations
	}
	if img != nil {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		for k, v := range cf.Config.Labels {
			facts[k] = v
		}
		im.Created = cf.Created.Time.UTC()
		if !desc.MediaType.IsIndex() && cf.OS != "" {
			im.Platforms = []string{(&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}).String()}
		}
	}
	for k, v := range annotations {
		if strings.HasPrefix(k, "pipbake:") {
			facts[k] = v
		}
	}
	im.Release, im.IsRelease = catalog.FromTags(facts)
	return im, nil
}

// Releases returns the family's releases, oldest first.
func Releases(list []Image, family string) []Image {
	var out []Image
	for _, im := range list {
		if im.IsRelease && im.Release.Family == family {
			out = append(out, im)
		}
	}
	return out
}
