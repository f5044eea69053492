package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PrunePlan says which of a family's releases in the repository a prune
// keeps, and why, and which it deletes (the manifest, and so every tag
// that points at it).
type PrunePlan struct {
	Repo   string          `json:"repository"`
	Family string          `json:"family"`
	Keep   int             `json:"keep"`
	Kept   []PruneDecision `json:"kept"`
	Delete []PruneDecision `json:"delete"`
}

// PruneDecision is one release and the reasons for keeping it (for one to
// delete: why, when revoked).
type PruneDecision struct {
	Image   Image    `json:"image"`
	Reasons []string `json:"reasons,omitempty"`
}

// PlanPrune keeps the newest keep releases of family that are not revoked,
// and every release a tag refers to that does not name the release (prod,
// latest: what promote moves); the rest are to be deleted, revoked
// releases first. family may be empty when the repository holds one.
//
// A tag names a release when it is the release id, or ends in it after a
// '-', '_' or 'v' (1.4.2, v1.4.2, api-1.4.2; a '+' in the id as '_'),
// which is how a bake's own tag is usually written.
func (c *Catalog) PlanPrune(ctx context.Context, family string, keep int) (*PrunePlan, error) {
	if keep < 1 {
		return nil, fmt.Errorf("prune: --keep must be at least 1")
	}
	list, err := c.Images(ctx)
	if err != nil {
		return nil, err
	}
	if family == "" {
		fams := families(list)
		switch len(fams) {
		case 0:
			return nil, refuse("prune %s: the repository holds no releases", c.Repo)
		case 1:
			family = fams[0]
		default:
			return nil, refuse("prune %s: the repository holds several families (%s): give --family", c.Repo, strings.Join(fams, ", "))
		}
	}
	rels := Releases(list, family)
	if len(rels) == 0 {
		return nil, refuse("prune %s: no release of family %s there", c.Repo, family)
	}
	p := &PrunePlan{Repo: c.Repo.String(), Family: family, Keep: keep}
	var revoked, old []PruneDecision
	newest := 0
	for i := len(rels) - 1; i >= 0; i-- {
		im := rels[i]
		var reasons []string
		if im.Revoked == nil && newest < keep {
			reasons = append(reasons, fmt.Sprintf("one of the newest %d", keep))
			newest++
		}
		for _, t := range im.Tags {
			if !NamesRelease(t, im.Release.Release) {
				reasons = append(reasons, "tag "+t+" refers to it")
			}
		}
		switch {
		case len(reasons) > 0:
			p.Kept = append(p.Kept, PruneDecision{Image: im, Reasons: reasons})
		case im.Revoked != nil:
			revoked = append(revoked, PruneDecision{Image: im, Reasons: []string{im.Revoked.String()}})
		default:
			old = append(old, PruneDecision{Image: im})
		}
	}
	p.Delete = append(revoked, old...)
	return p, nil
}

// NamesRelease reports whether tag is a release's own tag (see PlanPrune).
func NamesRelease(tag, id string) bool {
	id = strings.ReplaceAll(id, "+", "_")
	if id == "" {
		return false
	}
	rest, ok := strings.CutSuffix(tag, id)
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, "v")
	return rest == "" || strings.HasSuffix(rest, "-") || strings.HasSuffix(rest, "_")
}

// String renders the plan as prune prints it.
func (p *PrunePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prune family %s in %s, keeping the newest %d not revoked and every release another tag refers to\n", p.Family, p.Repo, p.Keep)
	for _, d := range p.Kept {
		fmt.Fprintf(&b, "  keep   %s (tags %s): %s\n", d.Image.Label(), strings.Join(d.Image.Tags, ", "), strings.Join(d.Reasons, "; "))
	}
	for _, d := range p.Delete {
		why := ""
		if len(d.Reasons) > 0 {
			why = " (" + strings.Join(d.Reasons, "; ") + ")"
		}
		fmt.Fprintf(&b, "  delete %s%s: manifest %s and its tags %s\n", d.Image.Label(), why, d.Image.Digest, strings.Join(d.Image.Tags, ", "))
	}
	if len(p.Delete) == 0 {
		b.WriteString("  nothing to delete\n")
	}
	return b.String()
}

// ExecutePrune deletes the plan's manifests. It reads the tags again
// first and skips a release no longer tagged, or that a tag which does not
// name it came to refer to since the plan. It returns the digests deleted.
// (Records that refer to a deleted release, such as attestations, stay.)
func (c *Catalog) ExecutePrune(ctx context.Context, p *PrunePlan, progress func(string)) ([]string, error) {
	say := func(s string) {
		if progress != nil {
			progress(s)
		}
	}
	list, err := c.Images(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []string
	for _, d := range p.Delete {
		im := d.Image
		now := find(list, im.Digest)
		if now == nil {
			say(fmt.Sprintf("skip %s: it is no longer tagged", im.Label()))
			continue
		}
		if t := otherTag(now.Tags, im); t != "" {
			say(fmt.Sprintf("skip %s: tag %s came to refer to it", im.Label(), t))
			continue
		}
		if err := remote.Delete(c.Repo.Digest(im.Digest), c.opts(ctx)...); err != nil {
			hint := ""
			var te *transport.Error
			if errors.As(err, &te) && (te.StatusCode == http.StatusMethodNotAllowed || te.StatusCode == http.StatusNotImplemented) {
				hint = " (the registry does not allow deletes: docker-registry needs storage.delete.enabled)"
			}
			return deleted, fmt.Errorf("prune %s: delete %s, %s%s (deleted so far: %s): %w", p.Family, im.Label(), im.Digest, hint, noneOr(deleted), err)
		}
		deleted = append(deleted, im.Digest)
		// Most registries drop the tags with the manifest; where one still
		// resolves (some keep tags apart), delete the tag itself (the OCI
		// distribution spec's tag delete).
		for _, t := range now.Tags {
			d, err := c.head(ctx, t)
			if err != nil {
				return deleted, fmt.Errorf("prune %s: deleted %s, then: %w", p.Family, im.Label(), err)
			}
			if d != im.Digest {
				continue
			}
			if err := remote.Delete(c.Repo.Tag(t), c.opts(ctx)...); err != nil {
				return deleted, fmt.Errorf("prune %s: deleted %s, but tag %s still points at it and deleting the tag failed: %w", p.Family, im.Label(), t, err)
			}
		}
		say(fmt.Sprintf("deleted %s (tags %s)", im.Label(), strings.Join(now.Tags, ", ")))
	}
	return deleted, nil
}

// otherTag is a tag of now that the plan did not see on im and that does
// not name the release.
func otherTag(now []string, im Image) string {
	for _, t := range now {
		if !NamesRelease(t, im.Release.Release) {
			return t
		}
	}
	return ""
}

func noneOr(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
