package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// An image in a registry cannot gain an annotation without becoming
// another image (its digest would change), so a revocation is a record
// that refers to it: a small OCI artifact whose subject is the release's
// manifest, of artifact type RevocationType, with the annotations
// pipbake:revoked (the reason) and pipbake:revoked-at, or, to take it
// back, pipbake:unrevoked-at. The newest record (by
// org.opencontainers.image.created) decides. Registries without the OCI
// referrers API list records under the fallback tag sha256-<digest>.
const (
	RevocationType    = "application/vnd.pipbake.revocation.v1+json"
	TagUnrevokedAt    = "pipbake:unrevoked-at"
	annotationCreated = "org.opencontainers.image.created"
	emptyMediaType    = types.MediaType("application/vnd.oci.empty.v1+json")
	fallbackTagPrefix = "sha256-"
)

// revocation reads the revocation state of a manifest from the records
// that refer to it; nil when it is not revoked.
func (c *Catalog) revocation(ctx context.Context, digest string) (*catalog.Revocation, error) {
	d := c.Repo.Digest(digest)
	idx, err := remote.Referrers(d, append(c.opts(ctx), remote.WithFilter("artifactType", RevocationType))...)
	if err != nil {
		return nil, fmt.Errorf("read the revocation records of %s@%s: %w", c.Repo, digest, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read the revocation records of %s@%s: %w", c.Repo, digest, err)
	}
	return stateOf(m.Manifests), nil
}

// stateOf is the revocation the newest record says (nil: not revoked).
func stateOf(records []v1.Descriptor) *catalog.Revocation {
	type rec struct {
		at     time.Time
		digest string
		ann    map[string]string
	}
	var list []rec
	for _, d := range records {
		if d.ArtifactType != RevocationType {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, d.Annotations[annotationCreated])
		if err != nil {
			continue
		}
		list = append(list, rec{at, d.Digest.String(), d.Annotations})
	}
	if len(list) == 0 {
		return nil
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].at.Equal(list[j].at) {
			return list[i].at.Before(list[j].at)
		}
		return list[i].digest < list[j].digest
	})
	newest := list[len(list)-1].ann
	if _, ok := newest[catalog.TagRevoked]; !ok {
		return nil
	}
	return catalog.RevocationFromTags(newest)
}

// RevokePlan marks a release of the repository bad, or good again.
type RevokePlan struct {
	Action     string              `json:"action"` // "revoke" or "unrevoke"
	Repo       string              `json:"repository"`
	Image      *Image              `json:"image"`
	Revocation *catalog.Revocation `json:"revocation,omitempty"`
	// Noop is set when there is nothing to do (unrevoke of a release that
	// is not revoked).
	Noop bool `json:"noop,omitempty"`
	at   time.Time
}

// PlanRevoke plans marking a release (id, or digest sha256:...) bad.
func (c *Catalog) PlanRevoke(ctx context.Context, rel, family, reason string, now time.Time) (*RevokePlan, error) {
	r, err := catalog.NewRevocation(reason, now)
	if err != nil {
		return nil, err
	}
	im, err := c.findRelease(ctx, "revoke", rel, family)
	if err != nil {
		return nil, err
	}
	return &RevokePlan{Action: "revoke", Repo: c.Repo.String(), Image: im, Revocation: &r, at: now.UTC()}, nil
}

// PlanUnrevoke plans taking the mark off a release.
func (c *Catalog) PlanUnrevoke(ctx context.Context, rel, family string, now time.Time) (*RevokePlan, error) {
	im, err := c.findRelease(ctx, "unrevoke", rel, family)
	if err != nil {
		return nil, err
	}
	return &RevokePlan{Action: "unrevoke", Repo: c.Repo.String(), Image: im, Noop: im.Revoked == nil, at: now.UTC()}, nil
}

// findRelease finds a release by id (of family, or of the repository's
// only family) or by digest.
func (c *Catalog) findRelease(ctx context.Context, action, rel, family string) (*Image, error) {
	list, err := c.Images(ctx)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(rel, "sha256:") {
		if im := find(list, rel); im != nil {
			return im, nil
		}
		return nil, refuse("%s %s: no tag of the repository points at %s", action, c.Repo, rel)
	}
	if family == "" {
		fams := families(list)
		if len(fams) != 1 {
			return nil, refuse("%s %s: the repository holds families %s; give --family", action, c.Repo, strings.Join(fams, ", "))
		}
		family = fams[0]
	}
	rels := Releases(list, family)
	for i := len(rels) - 1; i >= 0; i-- {
		if rels[i].Release.Release == rel {
			return &rels[i], nil
		}
	}
	return nil, refuse("%s %s: family %s has no release %s in the repository (%s)", action, c.Repo, family, rel, releaseIDs(rels))
}

// String renders the plan as --dry-run prints it.
func (p *RevokePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s in %s\n", p.Action, p.Image.Label(), p.Repo)
	switch {
	case p.Noop:
		b.WriteString("  nothing to do: it is not revoked\n")
	case p.Action == "revoke":
		fmt.Fprintf(&b, "  1. push a revocation record (%s) referring to %s: %s=%q %s=%s\n", RevocationType, p.Image.Digest,
			catalog.TagRevoked, p.Revocation.Reason, catalog.TagRevokedAt, p.Revocation.At.Format(time.RFC3339))
		b.WriteString("  from then on promote refuses it (unless --force) and rollback passes over it\n")
	default:
		fmt.Fprintf(&b, "  1. push a record referring to %s that takes back its revocation (%s)\n", p.Image.Digest, p.Image.Revoked)
	}
	return b.String()
}

// ExecuteRevoke pushes the plan's record.
func (c *Catalog) ExecuteRevoke(ctx context.Context, p *RevokePlan) error {
	if p.Noop {
		return nil
	}
	ann := map[string]string{annotationCreated: p.at.Format(time.RFC3339Nano)}
	if p.Action == "revoke" {
		for k, v := range p.Revocation.Tags() {
			ann[k] = v
		}
	} else {
		ann[TagUnrevokedAt] = p.at.Format(time.RFC3339)
	}
	if err := c.pushRecord(ctx, p.Image.Digest, ann); err != nil {
		return fmt.Errorf("%s %s@%s: %w", p.Action, c.Repo, p.Image.Digest, err)
	}
	return nil
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	data      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// pushRecord pushes an artifact of RevocationType referring to digest.
func (c *Catalog) pushRecord(ctx context.Context, digest string, ann map[string]string) error {
	subject, err := remote.Head(c.Repo.Digest(digest), c.opts(ctx)...)
	if err != nil {
		return fmt.Errorf("read the subject: %w", err)
	}
	empty := static.NewLayer([]byte("{}"), emptyMediaType)
	if err := remote.WriteLayer(c.Repo, empty, c.opts(ctx)...); err != nil {
		return fmt.Errorf("push the record's empty config: %w", err)
	}
	ed, _ := empty.Digest()
	blob := v1.Descriptor{MediaType: emptyMediaType, Digest: ed, Size: 2}
	m := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: RevocationType,
		Config: blob, Layers: []v1.Descriptor{blob}, Annotations: ann,
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	h, _, err := v1.SHA256(strings.NewReader(string(data)))
	if err != nil {
		return err
	}
	if err := remote.Put(c.Repo.Digest(h.String()), rawManifest{data, types.OCIManifestSchema1}, c.opts(ctx)...); err != nil {
		return fmt.Errorf("push the record: %w", err)
	}
	return nil
}
