package amazon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// ChangeOptions are promote's and rollback's options.
type ChangeOptions struct {
	Group string
	// Promote: Release (an id of the family the group runs, or of Family)
	// or Image (an AMI id). Rollback: To, a release id or AMI id (default:
	// the release before the one the group runs).
	Release string
	Image   string
	To      string
	// Family names the family for --release when the group does not run a
	// release yet.
	Family string
	// NoRefresh skips the instance refresh.
	NoRefresh bool
	// The refresh's preferences: MinHealthy, its MinHealthyPercentage
	// (default 90); Warmup, its InstanceWarmup in seconds (nil: the
	// group's default); Checkpoints, ascending percentages ending at 100,
	// with CheckpointDelay seconds at each; BakeTime seconds after the
	// last; Alarms, CloudWatch alarms that fail it. NoAutoRollback turns
	// AutoRollback off where AWS would allow it.
	MinHealthy      int32
	Warmup          *int32
	Checkpoints     []int32
	CheckpointDelay *int32
	BakeTime        *int32
	Alarms          []string
	NoAutoRollback  bool
	// CancelRefresh cancels a refresh in progress instead of refusing.
	CancelRefresh bool
	// AllowFamilyChange lets promote move a group to another family.
	AllowFamilyChange bool
	// Force lets promote (and rollback --to) choose a revoked release.
	Force bool
	// Receipts is a folder of receipts per release
	// (Receipts/<release>/<set>.json) for the plan's diff.
	Receipts string
}

// Refusal is a guard that stopped a plan: nothing was changed.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// IsRefusal reports whether err is a guard's refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// current is what a group runs now, as far as the catalog knows.
type current struct {
	grp   *Group
	image *Image // nil when the image is gone
	rel   catalog.Release
	isRel bool
}

// label is "family@release ami-..." or the image id.
func (cur *current) label() string {
	if cur.isRel {
		return fmt.Sprintf("%s %s", cur.rel, cur.grp.Image)
	}
	return cur.grp.Image
}

func (c *Catalog) current(ctx context.Context, name string) (*current, error) {
	grp, err := c.Group(ctx, name)
	if err != nil {
		return nil, err
	}
	cur := &current{grp: grp}
	if grp.Image != "" {
		im, err := c.Image(ctx, grp.Image)
		switch {
		case err == nil:
			cur.image = im
			cur.rel, cur.isRel = im.Release, im.IsRelease
		case errors.Is(err, ErrImageNotFound):
		default:
			return nil, err
		}
	}
	if !cur.isRel {
		// The image is gone or untagged: the group's own record, when the
		// image there is the one it runs.
		if r, ok := catalog.FromTags(grp.Tags); ok && grp.Tags[TagGroupImage] == grp.Image {
			cur.rel, cur.isRel = r, true
		}
	}
	return cur, nil
}

// PlanPromote plans moving a group to a release (of the family it runs, or
// o.Family) or to an image.
func (c *Catalog) PlanPromote(ctx context.Context, o ChangeOptions) (*Plan, error) {
	if (o.Release == "") == (o.Image == "") {
		return nil, fmt.Errorf("promote: give a release or an image, not both or neither")
	}
	cur, err := c.current(ctx, o.Group)
	if err != nil {
		return nil, err
	}
	var to *Image
	if o.Image != "" {
		if to, err = c.Image(ctx, o.Image); err != nil {
			if errors.Is(err, ErrImageNotFound) {
				return nil, refuse("promote %s: image %s does not exist in %s", o.Group, o.Image, c.Region)
			}
			return nil, err
		}
	} else {
		family := o.Family
		if family == "" {
			if !cur.isRel {
				return nil, refuse("promote %s: the group runs %s, which is not a pipbake release, so its family is unknown: give --family or --image", o.Group, cur.grp.Image)
			}
			family = cur.rel.Family
		}
		list, err := c.familyImages(ctx, family)
		if err != nil {
			return nil, err
		}
		if to = findRelease(list, o.Release); to == nil {
			return nil, refuse("promote %s: family %s has no release %s in %s (%s)", o.Group, family, o.Release, c.Region, releaseList(list))
		}
	}
	if cur.isRel && to.IsRelease && to.Release.Family != cur.rel.Family && !o.AllowFamilyChange {
		return nil, refuse("promote %s: the group runs family %s and %s is family %s; pass --allow-family-change to switch families", o.Group, cur.rel.Family, to.ID, to.Release.Family)
	}
	return c.plan(ctx, "promote", cur, to, o)
}

// PlanRollback plans moving a group back to what it launched before the
// release it runs now, from its history (see History.Before), passing
// over revoked releases; or to o.To, a release of the family or an AMI.
func (c *Catalog) PlanRollback(ctx context.Context, o ChangeOptions) (*Plan, error) {
	cur, err := c.current(ctx, o.Group)
	if err != nil {
		return nil, err
	}
	grp := cur.grp
	if !cur.isRel {
		return nil, refuse("rollback %s: the group runs %s, which has no pipbake:family and pipbake:release tags, so there is no release to go back from; use `pipbake promote --asg %s --image AMI`", o.Group, grp.Image, o.Group)
	}
	family := cur.rel.Family
	versions, err := c.templateVersions(ctx, grp.TemplateID, grp.DefaultVersion, grp.LatestVersion)
	if err != nil {
		return nil, err
	}
	before := NewHistory(versions).Before(grp.Version)
	ch := &choice{}
	switch {
	case strings.HasPrefix(o.To, "ami-"):
		if ch.to, err = c.Image(ctx, o.To); err != nil {
			if errors.Is(err, ErrImageNotFound) {
				return nil, refuse("rollback %s: image %s does not exist in %s", o.Group, o.To, c.Region)
			}
			return nil, err
		}
		if !ch.to.IsRelease || ch.to.Release.Family != family {
			return nil, refuse("rollback %s: %s is not a release of family %s (it is %s); a rollback stays in the family the group runs", o.Group, o.To, family, describeFamily(ch.to))
		}
	case o.To != "":
		list, err := c.familyImages(ctx, family)
		if err != nil {
			return nil, err
		}
		if ch.to = findRelease(list, o.To); ch.to == nil {
			return nil, refuse("rollback %s: family %s has no release %s in %s (%s)", o.Group, family, o.To, c.Region, releaseList(list))
		}
	default:
		if err := c.chooseFromHistory(ctx, cur, before, ch); err != nil {
			return nil, err
		}
	}
	if ch.restores == 0 {
		// --to a release the group ran: the record says so, and a further
		// rollback goes on from there.
		for _, e := range before {
			if e.Image == ch.to.ID {
				ch.restores = e.Version
				break
			}
		}
	}
	p, err := c.plan(ctx, "rollback", cur, ch.to, o)
	if err != nil {
		return nil, err
	}
	p.Basis, p.Skipped = ch.basis, ch.skipped
	if p.Record != nil {
		p.Record.Restores = ch.restores
		p.Description = p.Record.Describe(plainLabel(ch.to), cur.label())
	}
	return p, nil
}

// choice is a rollback's target and how it was found.
type choice struct {
	to       *Image
	restores int64
	basis    string
	skipped  []string
}

// chooseFromHistory picks the nearest version the group launched before
// that holds another image of a release not revoked.
func (c *Catalog) chooseFromHistory(ctx context.Context, cur *current, before []Entry, ch *choice) error {
	grp := cur.grp
	for _, e := range before {
		if e.Image == grp.Image {
			continue
		}
		im, err := c.Image(ctx, e.Image)
		if errors.Is(err, ErrImageNotFound) {
			return refuse("rollback %s: the group launched %s (version %d, %s) before, but that image is gone from %s; name a release with --to",
				grp.Name, e.Image, e.Version, e.Created.Format(time.RFC3339), c.Region)
		}
		if err != nil {
			return err
		}
		if im.Revoked != nil {
			ch.skipped = append(ch.skipped, fmt.Sprintf("%s (version %d): %s", im.Label(), e.Version, im.Revoked))
			continue
		}
		ch.to, ch.restores = im, e.Version
		ch.basis = fmt.Sprintf("the group launched %s with version %d (made %s) before %s", im.Label(), e.Version, e.Created.Format(time.RFC3339), cur.label())
		return nil
	}
	if len(ch.skipped) > 0 {
		return refuse("rollback %s: every release the group launched before %s is revoked (%s); name one with --to (and --force for a revoked one)",
			grp.Name, cur.label(), strings.Join(ch.skipped, "; "))
	}
	list, err := c.familyImages(ctx, cur.rel.Family)
	if err != nil {
		return err
	}
	var earlier []string
	for _, im := range list {
		if release.Less(im.Release.Release, cur.rel.Release) && im.Revoked == nil {
			earlier = append(earlier, im.Release.Release)
		}
	}
	hint := "it has no earlier release in " + c.Region
	if len(earlier) > 0 {
		hint = "earlier releases of " + cur.rel.Family + ": " + strings.Join(earlier, ", ")
	}
	return refuse("rollback %s: nothing to go back to: version %d (%s) is where the group's history begins (pipbake made no version before it); name a release with --to (%s)",
		grp.Name, grp.Version, cur.label(), hint)
}

func describeFamily(im *Image) string {
	if im.IsRelease {
		return "family " + im.Release.Family
	}
	return "not a pipbake release"
}

func findRelease(list []Image, id string) *Image {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Release.Release == id {
			return &list[i]
		}
	}
	return nil
}

func releaseList(list []Image) string {
	if len(list) == 0 {
		return "it has none there"
	}
	ids := make([]string, 0, len(list))
	for _, im := range list {
		if len(ids) == 0 || ids[len(ids)-1] != im.Release.Release {
			ids = append(ids, im.Release.Release)
		}
	}
	return "releases: " + strings.Join(ids, ", ")
}

// Group tags pipbake writes on a group it promotes, beside pipbake:family
// and pipbake:release.
const (
	TagGroupImage      = "pipbake:image"
	TagGroupLastChange = "pipbake:last-change"
)

// plan runs the guards and builds the plan.
func (c *Catalog) plan(ctx context.Context, action string, cur *current, to *Image, o ChangeOptions) (*Plan, error) {
	grp := cur.grp
	what := fmt.Sprintf("%s %s", action, grp.Name)
	if err := c.guardImage(ctx, what, cur, to); err != nil {
		return nil, err
	}
	p := &Plan{
		Action: action, Region: c.Region, Group: grp.Name,
		TemplateID: grp.TemplateID, TemplateName: grp.TemplateName, VersionSpec: grp.VersionSpec, Mixed: grp.Mixed, mixed: grp.mixed,
		FromVersion: grp.Version, FromImage: grp.Image, From: cur.image, To: to,
	}
	if to.Revoked != nil {
		if !o.Force {
			return nil, refuse("%s: %s is %s; pass --force to %s it anyway", what, to.Label(), to.Revoked, action)
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s TO A REVOKED RELEASE (--force): %s is %s", strings.ToUpper(action), to.Label(), to.Revoked))
	}
	active, err := c.activeRefresh(ctx, grp.Name)
	if err != nil {
		return nil, err
	}
	if active != nil {
		if !o.CancelRefresh {
			return nil, refuse("%s: instance refresh %s is %s (%d%% done); wait for it to end, or pass --cancel-refresh to cancel it first", what, active.ID, active.Status, active.Percentage)
		}
		p.CancelRefresh = active.ID
	}
	if grp.Image != to.ID {
		p.NewVersion = grp.LatestVersion + 1
		p.chooseSwitch(o.NoRefresh)
		p.Record = &Record{Action: action, From: grp.Version}
		p.Description = p.Record.Describe(plainLabel(to), cur.label())
		if p.Affects, err = c.affected(ctx, p); err != nil {
			return nil, err
		}
	}
	if !o.NoRefresh {
		spec := grp.VersionSpec
		if p.Pin {
			spec = strconv.FormatInt(grp.Version, 10)
		}
		if p.Refresh, err = refreshSpec(o, spec, p.target()); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err := c.checkAlarms(ctx, what, o.Alarms); err != nil {
			return nil, err
		}
	}
	p.GroupTags = map[string]string{
		TagGroupImage:      to.ID,
		TagGroupLastChange: truncate(fmt.Sprintf("%s %s %s version %d by pipbake %s", c.now().Format("2006-01-02T15:04:05Z"), action, plainLabel(to), p.target(), versionString()), catalog.MaxTagValue),
	}
	if to.IsRelease {
		p.GroupTags[catalog.TagFamily] = to.Release.Family
		p.GroupTags[catalog.TagRelease] = to.Release.Release
	}
	p.Diff = catalog.DiffFacts(c.facts(cur.fromFacts(), o.Receipts), c.facts(to.facts(), o.Receipts))
	return p, nil
}

// chooseSwitch decides how the group moves to the new version. With a
// refresh, the refresh's desired configuration moves it when it succeeds;
// a group on $Latest is first pinned to the version it launches, so that
// creating the new one changes nothing before the refresh (and AWS can
// roll the refresh back). Without one, the group's own reference moves.
func (p *Plan) chooseSwitch(noRefresh bool) {
	switch {
	case !noRefresh:
		p.Switch, p.Pin = "refresh", p.VersionSpec == "$Latest"
	case p.VersionSpec == "$Latest":
		p.Switch = "latest"
	case p.VersionSpec == "$Default":
		p.Switch = "default"
	default:
		p.Switch = "group"
	}
}

// guardImage refuses an image that cannot replace the group's.
func (c *Catalog) guardImage(ctx context.Context, what string, cur *current, to *Image) error {
	if to.State != "available" {
		return refuse("%s: %s is %s, not available", what, to.Label(), to.State)
	}
	missing, err := c.missingSnapshots(ctx, to)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return refuse("%s: %s cannot launch: its snapshot %s is gone", what, to.Label(), strings.Join(missing, ", "))
	}
	if cur.image != nil && cur.image.Architecture != "" && to.Architecture != "" && cur.image.Architecture != to.Architecture {
		return refuse("%s: the group runs %s images (%s) and %s is %s", what, cur.image.Architecture, cur.image.ID, to.Label(), to.Architecture)
	}
	return nil
}

// plainLabel is "family@release ami-..." or the id alone.
func plainLabel(im *Image) string {
	if im.IsRelease {
		return fmt.Sprintf("%s %s", im.Release, im.ID)
	}
	return im.ID
}

func versionString() string { return version.String() }

// affected lists other groups whose launches the plan changes: those on
// the same template's $Latest (a new version), and on $Default when the
// default moves.
func (c *Catalog) affected(ctx context.Context, p *Plan) ([]string, error) {
	var out []string
	pg := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.ASG, &autoscaling.DescribeAutoScalingGroupsInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list autoscaling groups in %s: %w", c.Region, err)
		}
		for _, g := range page.AutoScalingGroups {
			name := aws.ToString(g.AutoScalingGroupName)
			ref := groupTemplate(g)
			if name == p.Group || ref == nil || (ref.id != p.TemplateID && ref.name != p.TemplateName) {
				continue
			}
			switch {
			case ref.version == "$Latest":
				out = append(out, fmt.Sprintf("group %s uses $Latest of %s: it will launch %s too", name, p.template(), p.To.ID))
			case ref.version == "$Default" && p.Switch == "default":
				out = append(out, fmt.Sprintf("group %s uses $Default of %s: it will launch %s too", name, p.template(), p.To.ID))
			}
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
