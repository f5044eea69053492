package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
)

// Plan moves a tag to a release's digest.
type Plan struct {
	Action string `json:"action"` // "promote" or "rollback"
	Repo   string `json:"repository"`
	Tag    string `json:"tag"`
	// FromDigest is where the tag points now ("" when it does not exist);
	// From is that image when it is known.
	FromDigest string `json:"from_digest,omitempty"`
	From       *Image `json:"from,omitempty"`
	To         *Image `json:"to"`
	// Skipped says which revoked releases a rollback passed over;
	// Warnings are said loudly (a revoked release promoted with force).
	Skipped  []string `json:"skipped,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Diff is what the tag will point at differently (labels and the
	// receipts in the images' layers).
	Diff *catalog.Diff `json:"diff,omitempty"`
}

// String renders the plan as --dry-run prints it.
func (p *Plan) String() string {
	var b strings.Builder
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", w)
	}
	fmt.Fprintf(&b, "%s tag %s of %s\n", p.Action, p.Tag, p.Repo)
	switch {
	case p.From != nil:
		fmt.Fprintf(&b, "  before: %s, %s\n", p.From.Label(), p.FromDigest)
	case p.FromDigest != "":
		fmt.Fprintf(&b, "  before: %s\n", p.FromDigest)
	default:
		b.WriteString("  before: the tag does not exist\n")
	}
	fmt.Fprintf(&b, "  after:  %s, %s\n", p.To.Label(), p.To.Digest)
	for _, s := range p.Skipped {
		fmt.Fprintf(&b, "  skipped %s\n", s)
	}
	if p.Diff != nil {
		b.WriteString("  changes: " + strings.TrimLeft(p.Diff.Format("  "), " "))
	}
	if p.FromDigest == p.To.Digest {
		b.WriteString("  the tag already points there: nothing to do\n")
	} else {
		fmt.Fprintf(&b, "  1. point %s:%s at %s (if it still points at %s)\n", p.Repo, p.Tag, p.To.Digest, orNone(p.FromDigest))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// Refusal is a guard that stopped a plan.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

func find(list []Image, digest string) *Image {
	for i := range list {
		if list[i].Digest == digest {
			return &list[i]
		}
	}
	return nil
}

// head returns the digest a tag points at, or "" when there is no such tag.
func (c *Catalog) head(ctx context.Context, tag string) (string, error) {
	d, err := remote.Head(c.Repo.Tag(tag), c.opts(ctx)...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			return "", nil
		}
		return "", fmt.Errorf("read %s:%s: %w", c.Repo, tag, err)
	}
	return d.Digest.String(), nil
}

// PlanPromote plans pointing tag at a release (an id, or a digest
// sha256:...). family may be empty when the tag points at a release now
// (its family) or the repository holds one family. A revoked release is
// refused unless force.
func (c *Catalog) PlanPromote(ctx context.Context, rel, tag, family string, force bool) (*Plan, error) {
	p, err := c.planPromote(ctx, rel, tag, family)
	if err != nil {
		return nil, err
	}
	return c.finish(ctx, p, force)
}

func (c *Catalog) planPromote(ctx context.Context, rel, tag, family string) (*Plan, error) {
	list, err := c.Images(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{Action: "promote", Repo: c.Repo.String(), Tag: tag}
	if p.FromDigest, err = c.head(ctx, tag); err != nil {
		return nil, err
	}
	p.From = find(list, p.FromDigest)
	if strings.HasPrefix(rel, "sha256:") {
		if p.To = find(list, rel); p.To == nil {
			return nil, refuse("promote %s:%s: no tag of the repository points at %s", c.Repo, tag, rel)
		}
		return p, nil
	}
	if family == "" {
		if p.From != nil && p.From.IsRelease {
			family = p.From.Release.Family
		} else {
			fams := families(list)
			if len(fams) != 1 {
				return nil, refuse("promote %s:%s: the repository holds families %s; give --family", c.Repo, tag, strings.Join(fams, ", "))
			}
			family = fams[0]
		}
	}
	rels := Releases(list, family)
	for i := len(rels) - 1; i >= 0; i-- {
		if rels[i].Release.Release == rel {
			p.To = &rels[i]
			break
		}
	}
	if p.To == nil {
		return nil, refuse("promote %s:%s: family %s has no release %s in the repository (%s)", c.Repo, tag, family, rel, releaseIDs(rels))
	}
	if p.From != nil && p.From.IsRelease && p.From.Release.Family != family {
		return nil, refuse("promote %s:%s: the tag points at family %s, not %s", c.Repo, tag, p.From.Release.Family, family)
	}
	return p, nil
}

// PlanRollback plans pointing tag back at the release before the one it
// points at, passing over revoked releases (or at to: a release id or a
// digest, refused when revoked unless force), in the same family. A tag
// keeps no history: "before" is in release order.
func (c *Catalog) PlanRollback(ctx context.Context, tag, to string, force bool) (*Plan, error) {
	p, err := c.planRollback(ctx, tag, to)
	if err != nil {
		return nil, err
	}
	return c.finish(ctx, p, force)
}

// finish guards a plan's target and adds the diff.
func (c *Catalog) finish(ctx context.Context, p *Plan, force bool) (*Plan, error) {
	if p.To.Revoked != nil {
		if !force {
			return nil, refuse("%s %s:%s: %s is %s; pass --force to %s it anyway", p.Action, c.Repo, p.Tag, p.To.Label(), p.To.Revoked, p.Action)
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s TO A REVOKED RELEASE (--force): %s is %s", strings.ToUpper(p.Action), p.To.Label(), p.To.Revoked))
	}
	if p.From != nil && p.From.Digest != p.To.Digest {
		from, err := c.Facts(ctx, p.From.Digest)
		if err != nil {
			return nil, err
		}
		to, err := c.Facts(ctx, p.To.Digest)
		if err != nil {
			return nil, err
		}
		p.Diff = catalog.DiffFacts(from, to)
	}
	return p, nil
}

func (c *Catalog) planRollback(ctx context.Context, tag, to string) (*Plan, error) {
	list, err := c.Images(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{Action: "rollback", Repo: c.Repo.String(), Tag: tag}
	if p.FromDigest, err = c.head(ctx, tag); err != nil {
		return nil, err
	}
	if p.FromDigest == "" {
		return nil, refuse("rollback %s:%s: there is no such tag", c.Repo, tag)
	}
	p.From = find(list, p.FromDigest)
	if p.From == nil || !p.From.IsRelease {
		return nil, refuse("rollback %s:%s: it points at %s, which has no pipbake:family and pipbake:release annotations or labels; use promote", c.Repo, tag, p.FromDigest)
	}
	cur := p.From.Release
	rels := Releases(list, cur.Family)
	switch {
	case strings.HasPrefix(to, "sha256:"):
		p.To = find(rels, to)
		if p.To == nil {
			return nil, refuse("rollback %s:%s: %s is not a release of family %s in the repository", c.Repo, tag, to, cur.Family)
		}
	case to != "":
		for i := len(rels) - 1; i >= 0; i-- {
			if rels[i].Release.Release == to {
				p.To = &rels[i]
				break
			}
		}
		if p.To == nil {
			return nil, refuse("rollback %s:%s: family %s has no release %s in the repository (%s)", c.Repo, tag, cur.Family, to, releaseIDs(rels))
		}
	default:
		for i := len(rels) - 1; i >= 0; i-- {
			if !release.Less(rels[i].Release.Release, cur.Release) {
				continue
			}
			if rels[i].Revoked != nil {
				p.Skipped = append(p.Skipped, fmt.Sprintf("%s: %s", rels[i].Label(), rels[i].Revoked))
				continue
			}
			p.To = &rels[i]
			break
		}
		if p.To == nil && len(p.Skipped) > 0 {
			return nil, refuse("rollback %s:%s: every release of %s before %s is revoked (%s); name one with --to (and --force)", c.Repo, tag, cur.Family, cur, strings.Join(p.Skipped, "; "))
		}
		if p.To == nil {
			return nil, refuse("rollback %s:%s: it points at %s, the oldest release of %s in the repository: nothing earlier to go back to", c.Repo, tag, cur, cur.Family)
		}
	}
	return p, nil
}

// Execute moves the tag, after checking it still points where the plan
// found it.
func (c *Catalog) Execute(ctx context.Context, p *Plan) error {
	if p.FromDigest == p.To.Digest {
		return nil
	}
	now, err := c.head(ctx, p.Tag)
	if err != nil {
		return err
	}
	if now != p.FromDigest {
		return fmt.Errorf("%s %s:%s: the tag moved to %s since the plan was made (from %s); nothing was changed: run the command again", p.Action, p.Repo, p.Tag, orNone(now), orNone(p.FromDigest))
	}
	desc, err := remote.Get(c.Repo.Digest(p.To.Digest), c.opts(ctx)...)
	if err != nil {
		return fmt.Errorf("%s %s:%s: read %s: %w", p.Action, p.Repo, p.Tag, p.To.Digest, err)
	}
	if err := remote.Tag(c.Repo.Tag(p.Tag), desc, c.opts(ctx)...); err != nil {
		return fmt.Errorf("%s %s:%s: point the tag at %s (it still points at %s): %w", p.Action, p.Repo, p.Tag, p.To.Digest, orNone(p.FromDigest), err)
	}
	return nil
}

func families(list []Image) []string {
	seen := map[string]bool{}
	var out []string
	for _, im := range list {
		if im.IsRelease && !seen[im.Release.Family] {
			seen[im.Release.Family] = true
			out = append(out, im.Release.Family)
		}
	}
	return out
}

func releaseIDs(rels []Image) string {
	if len(rels) == 0 {
		return "it has none"
	}
	var ids []string
	for _, r := range rels {
		if len(ids) == 0 || ids[len(ids)-1] != r.Release.Release {
			ids = append(ids, r.Release.Release)
		}
	}
	return "releases: " + strings.Join(ids, ", ")
}
