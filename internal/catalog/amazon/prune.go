package amazon

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// PrunePlan says which of a family's images a prune keeps, and why, and
// which it deletes.
type PrunePlan struct {
	Family string     `json:"family"`
	Region string     `json:"region"`
	Keep   int        `json:"keep"`
	Kept   []Decision `json:"kept"`
	Delete []Decision `json:"delete"`
}

// Decision is one image and the reasons for keeping it (none for an image
// to delete).
type Decision struct {
	Image   Image    `json:"image"`
	Reasons []string `json:"reasons,omitempty"`
}

// PlanPrune keeps the newest keep releases of family that are not
// revoked, and every image that a launch template version, autoscaling
// group, launch configuration or live instance references; the rest are
// to be deleted, revoked releases first.
func (c *Catalog) PlanPrune(ctx context.Context, family string, keep int) (*PrunePlan, error) {
	if keep < 1 {
		return nil, fmt.Errorf("prune: --keep must be at least 1")
	}
	list, err := c.Images(ctx, family)
	if err != nil {
		return nil, err
	}
	p := &PrunePlan{Family: family, Region: c.Region, Keep: keep}
	var revoked, old []Decision
	newest := 0
	for i := len(list) - 1; i >= 0; i-- {
		im := list[i]
		var reasons []string
		if im.Revoked == nil && newest < keep {
			reasons = append(reasons, fmt.Sprintf("one of the newest %d", keep))
			newest++
		}
		for _, u := range im.UsedBy {
			reasons = append(reasons, "used by "+u.String())
		}
		switch {
		case len(reasons) > 0:
			p.Kept = append(p.Kept, Decision{Image: im, Reasons: reasons})
		case im.Revoked != nil:
			revoked = append(revoked, Decision{Image: im, Reasons: []string{im.Revoked.String()}})
		default:
			old = append(old, Decision{Image: im})
		}
	}
	p.Delete = append(revoked, old...)
	return p, nil
}

// String renders the plan as prune prints it.
func (p *PrunePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prune family %s in %s, keeping the newest %d not revoked and every image in use\n", p.Family, p.Region, p.Keep)
	for _, d := range p.Kept {
		fmt.Fprintf(&b, "  keep   %s: %s\n", d.Image.Label(), strings.Join(d.Reasons, "; "))
	}
	for _, d := range p.Delete {
		why := ""
		if len(d.Reasons) > 0 {
			why = " (" + strings.Join(d.Reasons, "; ") + ")"
		}
		fmt.Fprintf(&b, "  delete %s%s and its snapshots %s\n", d.Image.Label(), why, strings.Join(d.Image.Snapshots, ", "))
	}
	if len(p.Delete) == 0 {
		b.WriteString("  nothing to delete\n")
	}
	return b.String()
}

// ExecutePrune deregisters the plan's images and deletes their snapshots.
// It reads the references again first and skips any image that became
// used since the plan was made. Snapshots another image still uses are
// kept. It returns the images deleted.
func (c *Catalog) ExecutePrune(ctx context.Context, p *PrunePlan, progress func(string)) ([]string, error) {
	say := func(s string) {
		if progress != nil {
			progress(s)
		}
	}
	refs, err := c.References(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []string
	for _, d := range p.Delete {
		im := d.Image
		if uses := refs.For(im.ID); len(uses) > 0 {
			say(fmt.Sprintf("skip %s: it became used by %s", im.Label(), uses[0]))
			continue
		}
		if _, err := c.EC2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(im.ID)}); err != nil {
			return deleted, fmt.Errorf("prune %s: deregister %s (deleted so far: %s): %w", p.Family, im.Label(), listOrNone(deleted), err)
		}
		deleted = append(deleted, im.ID)
		say("deregistered " + im.Label())
		for _, snap := range im.Snapshots {
			if _, err := c.EC2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); err != nil {
				if errorCode(err) == "InvalidSnapshot.InUse" {
					say(fmt.Sprintf("kept snapshot %s of %s: another image uses it", snap, im.ID))
					continue
				}
				return deleted, fmt.Errorf("prune %s: delete snapshot %s of %s (the image is already deregistered; delete the snapshot by hand): %w", p.Family, snap, im.ID, err)
			}
			say("deleted snapshot " + snap)
		}
	}
	return deleted, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
