package amazon

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// RevokePlan marks a release bad (revoke) or good again (unrevoke) in one
// region: the pipbake:revoked and pipbake:revoked-at tags on each of its
// images (a release may have several, e.g. rebuilt).
type RevokePlan struct {
	Action  string `json:"action"` // "revoke" or "unrevoke"
	Family  string `json:"family"`
	Release string `json:"release"`
	Region  string `json:"region"`
	// Images are the images to tag (revoke) or untag (unrevoke).
	Images []Image `json:"images"`
	// Revocation is what revoke writes.
	Revocation *catalog.Revocation `json:"revocation,omitempty"`
	// InUse says which groups launch the release now.
	InUse []string `json:"in_use,omitempty"`
}

// PlanRevoke plans marking family's release rel bad for reason.
func (c *Catalog) PlanRevoke(ctx context.Context, family, rel, reason string) (*RevokePlan, error) {
	r, err := catalog.NewRevocation(reason, c.now())
	if err != nil {
		return nil, err
	}
	return c.planRevocation(ctx, "revoke", family, rel, &r)
}

// PlanUnrevoke plans taking the mark off family's release rel.
func (c *Catalog) PlanUnrevoke(ctx context.Context, family, rel string) (*RevokePlan, error) {
	return c.planRevocation(ctx, "unrevoke", family, rel, nil)
}

func (c *Catalog) planRevocation(ctx context.Context, action, family, rel string, r *catalog.Revocation) (*RevokePlan, error) {
	if err := catalog.ValidFamily(family); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	list, err := c.Images(ctx, family)
	if err != nil {
		return nil, err
	}
	p := &RevokePlan{Action: action, Family: family, Release: rel, Region: c.Region, Revocation: r, Images: []Image{}}
	for _, im := range list {
		if im.Release.Release != rel {
			continue
		}
		if action == "unrevoke" && im.Revoked == nil {
			continue
		}
		if action == "revoke" {
			if n := len(mergeKeys(im.Tags, r.Tags())); n > catalog.MaxResources {
				return nil, fmt.Errorf("revoke %s: %d tags: AWS allows %d on an image", im.Label(), n, catalog.MaxResources)
			}
		}
		p.Images = append(p.Images, im)
		for _, run := range im.Runs {
			if run.Current {
				p.InUse = append(p.InUse, run.Group)
			}
		}
	}
	sort.Strings(p.InUse)
	return p, nil
}

func mergeKeys(a, b map[string]string) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// String renders the plan as --dry-run prints it.
func (p *RevokePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s@%s in %s\n", p.Action, p.Family, p.Release, p.Region)
	if len(p.Images) == 0 {
		if p.Action == "unrevoke" {
			b.WriteString("  nothing to do: no image of the release is revoked here\n")
		} else {
			b.WriteString("  no image of the release here\n")
		}
		return b.String()
	}
	for _, im := range p.Images {
		if p.Action == "revoke" {
			was := ""
			if im.Revoked != nil {
				was = fmt.Sprintf(" (now %s)", im.Revoked)
			}
			fmt.Fprintf(&b, "  tag %s%s: %s=%q %s=%s\n", im.Label(), was, catalog.TagRevoked, p.Revocation.Reason, catalog.TagRevokedAt, p.Revocation.At.Format("2006-01-02T15:04:05Z"))
		} else {
			fmt.Fprintf(&b, "  untag %s: %s\n", im.Label(), im.Revoked)
		}
	}
	if p.Action == "revoke" {
		b.WriteString("  from then on promote refuses it (unless --force), rollback passes over it, prune deletes it first\n")
		for _, g := range p.InUse {
			fmt.Fprintf(&b, "  warning: group %s launches it now; `pipbake rollback --asg %s --region %s` goes back to what it launched before\n", g, g, p.Region)
		}
	}
	return b.String()
}

// ExecuteRevoke tags (or untags) the plan's images.
func (c *Catalog) ExecuteRevoke(ctx context.Context, p *RevokePlan) error {
	if len(p.Images) == 0 {
		return nil
	}
	ids := make([]string, len(p.Images))
	for i, im := range p.Images {
		ids[i] = im.ID
	}
	if p.Action == "revoke" {
		var tags []types.Tag
		for _, k := range []string{catalog.TagRevoked, catalog.TagRevokedAt} {
			tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(p.Revocation.Tags()[k])})
		}
		if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: tags}); err != nil {
			return fmt.Errorf("revoke %s@%s: tag %s in %s (run it again: it is idempotent): %w", p.Family, p.Release, strings.Join(ids, ", "), c.Region, err)
		}
		return nil
	}
	tags := []types.Tag{{Key: aws.String(catalog.TagRevoked)}, {Key: aws.String(catalog.TagRevokedAt)}}
	if _, err := c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids, Tags: tags}); err != nil {
		return fmt.Errorf("unrevoke %s@%s: untag %s in %s (run it again: it is idempotent): %w", p.Family, p.Release, strings.Join(ids, ", "), c.Region, err)
	}
	return nil
}
