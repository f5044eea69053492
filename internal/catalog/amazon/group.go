package amazon

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// Group is an autoscaling group and the launch template version it
// launches.
type Group struct {
	Name string
	// TemplateID and TemplateName name its launch template; VersionSpec is
	// how the group refers to the version: "$Default", "$Latest" or a
	// number. Mixed is set when the template comes from a mixed instances
	// policy.
	TemplateID, TemplateName string
	VersionSpec              string
	Mixed                    bool
	// Version is the version VersionSpec resolves to now, and Image that
	// version's ImageId; DefaultVersion and LatestVersion are the
	// template's.
	Version                       int64
	Image                         string
	DefaultVersion, LatestVersion int64
	Tags                          map[string]string
	// mixed is the group's mixed instances policy (Mixed), which a
	// refresh's desired configuration repeats with the new version.
	mixed *astypes.MixedInstancesPolicy
}

// ErrGroupNotFound is wrapped when a group does not exist.
var ErrGroupNotFound = errors.New("autoscaling group not found")

// ErrLaunchConfiguration is wrapped when a group uses a launch
// configuration instead of a launch template.
var ErrLaunchConfiguration = errors.New("the group uses a launch configuration")

func groupTemplate(g astypes.AutoScalingGroup) *templateRef {
	if lt := g.LaunchTemplate; lt != nil {
		return &templateRef{id: aws.ToString(lt.LaunchTemplateId), name: aws.ToString(lt.LaunchTemplateName), version: versionOrDefault(lt.Version)}
	}
	if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil && m.LaunchTemplate.LaunchTemplateSpecification != nil {
		lt := m.LaunchTemplate.LaunchTemplateSpecification
		return &templateRef{id: aws.ToString(lt.LaunchTemplateId), name: aws.ToString(lt.LaunchTemplateName), version: versionOrDefault(lt.Version), mixed: true}
	}
	return nil
}

func versionOrDefault(v *string) string {
	if s := aws.ToString(v); s != "" {
		return s
	}
	return "$Default"
}

// Group reads a group and resolves its launch template version and image.
// It refuses, with an explanation, groups that use launch configurations
// or whose mixed instances policy overrides the template per instance
// type.
func (c *Catalog) Group(ctx context.Context, name string) (*Group, error) {
	out, err := c.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe autoscaling group %s in %s: %w", name, c.Region, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, fmt.Errorf("autoscaling group %q in %s: %w (check the name and the region)", name, c.Region, ErrGroupNotFound)
	}
	g := out.AutoScalingGroups[0]
	if lc := aws.ToString(g.LaunchConfigurationName); lc != "" {
		return nil, fmt.Errorf("autoscaling group %s uses launch configuration %s: %w; pipbake promotes images through launch templates "+
			"(launch configurations cannot be versioned, and AWS no longer adds features to them). Move the group to a launch template first "+
			"(aws ec2 create-launch-template from the configuration, then aws autoscaling update-auto-scaling-group --launch-template), then run this again",
			name, lc, ErrLaunchConfiguration)
	}
	ref := groupTemplate(g)
	if ref == nil {
		return nil, fmt.Errorf("autoscaling group %s has no launch template", name)
	}
	if ref.mixed {
		for _, o := range g.MixedInstancesPolicy.LaunchTemplate.Overrides {
			if o.LaunchTemplateSpecification != nil || aws.ToString(o.ImageId) != "" {
				return nil, fmt.Errorf("autoscaling group %s: its mixed instances policy overrides the launch template or image for instance type %s; pipbake cannot promote one image across several templates",
					name, aws.ToString(o.InstanceType))
			}
		}
	}
	grp := &Group{Name: name, TemplateID: ref.id, TemplateName: ref.name, VersionSpec: ref.version, Mixed: ref.mixed, Tags: map[string]string{}, mixed: g.MixedInstancesPolicy}
	for _, t := range g.Tags {
		grp.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	in := &ec2.DescribeLaunchTemplatesInput{}
	if ref.id != "" {
		in.LaunchTemplateIds = []string{ref.id}
	} else {
		in.LaunchTemplateNames = []string{ref.name}
	}
	lts, err := c.EC2.DescribeLaunchTemplates(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("describe launch template %s of group %s: %w", firstNonEmpty(ref.id, ref.name), name, err)
	}
	if len(lts.LaunchTemplates) == 0 {
		return nil, fmt.Errorf("launch template %s of group %s not found", firstNonEmpty(ref.id, ref.name), name)
	}
	lt := lts.LaunchTemplates[0]
	grp.TemplateID, grp.TemplateName = aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.LaunchTemplateName)
	grp.DefaultVersion, grp.LatestVersion = aws.ToInt64(lt.DefaultVersionNumber), aws.ToInt64(lt.LatestVersionNumber)
	switch ref.version {
	case "$Default":
		grp.Version = grp.DefaultVersion
	case "$Latest":
		grp.Version = grp.LatestVersion
	default:
		n, err := strconv.ParseInt(ref.version, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("autoscaling group %s: launch template version %q is not $Default, $Latest or a number", name, ref.version)
		}
		grp.Version = n
	}
	vs, err := c.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(grp.TemplateID), Versions: []string{strconv.FormatInt(grp.Version, 10)},
	})
	if err != nil {
		return nil, fmt.Errorf("describe version %d of launch template %s: %w", grp.Version, grp.TemplateID, err)
	}
	if len(vs.LaunchTemplateVersions) == 0 {
		return nil, fmt.Errorf("launch template %s has no version %d (group %s refers to %s)", grp.TemplateID, grp.Version, name, ref.version)
	}
	if d := vs.LaunchTemplateVersions[0].LaunchTemplateData; d != nil {
		grp.Image = aws.ToString(d.ImageId)
	}
	return grp, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
