package amazon

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Use is one thing that references an image.
type Use struct {
	// Kind is "launch-template-version", "autoscaling-group", "instance"
	// or "launch-configuration".
	Kind string `json:"kind"`
	// ID is the template id, group name, instance id or configuration
	// name.
	ID string `json:"id"`
	// For launch template versions: the template's name, the version,
	// whether it is the default or latest, its description and creation
	// time. For groups: the template and version they resolve to. For
	// instances: the state.
	Name        string    `json:"name,omitempty"`
	Version     int64     `json:"version,omitempty"`
	Default     bool      `json:"default,omitempty"`
	Latest      bool      `json:"latest,omitempty"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	State       string    `json:"state,omitempty"`
}

// String is a short description, e.g. "launch template web-lt (lt-0abc)
// version 7 (default)".
func (u Use) String() string {
	switch u.Kind {
	case "launch-template-version":
		s := fmt.Sprintf("launch template %s (%s) version %d", u.Name, u.ID, u.Version)
		switch {
		case u.Default && u.Latest:
			s += " (default, latest)"
		case u.Default:
			s += " (default)"
		case u.Latest:
			s += " (latest)"
		}
		return s
	case "autoscaling-group":
		return fmt.Sprintf("autoscaling group %s (%s version %d)", u.ID, u.Name, u.Version)
	case "instance":
		return fmt.Sprintf("instance %s (%s)", u.ID, u.State)
	case "launch-configuration":
		return "launch configuration " + u.ID
	}
	return u.Kind + " " + u.ID
}

// TemplateVersion is one launch template version.
type TemplateVersion struct {
	TemplateID, TemplateName string
	Version                  int64
	Default, Latest          bool
	ImageID                  string
	Description              string
	Created                  time.Time
}

// References are everything in the region that can point at an image.
type References struct {
	Versions  []TemplateVersion
	Groups    []Use // Kind autoscaling-group, with the image in groupImage
	Instances []Use
	Configs   []Use
	image     map[string][]Use
	groups    []groupRef
}

// groupRef is a group and the launch template version it launches.
type groupRef struct {
	name, templateID string
	version          int64
}

// For returns the uses of an image: launch template versions, groups,
// instances and launch configurations.
func (r *References) For(imageID string) []Use {
	u := r.image[imageID]
	if u == nil {
		return []Use{}
	}
	return u
}

// References reads every launch template version, autoscaling group,
// launch configuration and live instance in the region.
func (c *Catalog) References(ctx context.Context) (*References, error) {
	r := &References{image: map[string][]Use{}}
	add := func(image string, u Use) {
		if image != "" {
			r.image[image] = append(r.image[image], u)
		}
	}

	// Launch templates and all their versions.
	byTemplate := map[string][]TemplateVersion{}
	// MaxResults at AWS's largest page: fewer calls, and emulators that cut
	// a list at their default page size without a NextToken (moto: 15)
	// give it whole.
	tp := ec2.NewDescribeLaunchTemplatesPaginator(c.EC2, &ec2.DescribeLaunchTemplatesInput{MaxResults: aws.Int32(200)})
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list launch templates in %s: %w", c.Region, err)
		}
		for _, lt := range out.LaunchTemplates {
			vs, err := c.templateVersions(ctx, aws.ToString(lt.LaunchTemplateId), aws.ToInt64(lt.DefaultVersionNumber), aws.ToInt64(lt.LatestVersionNumber))
			if err != nil {
				return nil, err
			}
			byTemplate[aws.ToString(lt.LaunchTemplateId)] = vs
			byTemplate["name:"+aws.ToString(lt.LaunchTemplateName)] = vs
			r.Versions = append(r.Versions, vs...)
		}
	}
	for _, v := range r.Versions {
		add(v.ImageID, Use{Kind: "launch-template-version", ID: v.TemplateID, Name: v.TemplateName, Version: v.Version,
			Default: v.Default, Latest: v.Latest, Description: v.Description, Created: v.Created})
	}

	// Groups, resolved to the version they launch.
	gp := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.ASG, &autoscaling.DescribeAutoScalingGroupsInput{})
	for gp.HasMorePages() {
		out, err := gp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list autoscaling groups in %s: %w", c.Region, err)
		}
		for _, g := range out.AutoScalingGroups {
			spec := groupTemplate(g)
			if spec == nil {
				continue
			}
			vs := byTemplate[spec.id]
			if spec.id == "" {
				vs = byTemplate["name:"+spec.name]
			}
			for _, v := range vs {
				if spec.matches(v) {
					u := Use{Kind: "autoscaling-group", ID: aws.ToString(g.AutoScalingGroupName), Name: v.TemplateName + " " + spec.version, Version: v.Version}
					r.Groups = append(r.Groups, u)
					r.groups = append(r.groups, groupRef{name: u.ID, templateID: v.TemplateID, version: v.Version})
					add(v.ImageID, u)
				}
			}
		}
	}

	// Launch configurations (groups that still use them keep their image).
	lp := autoscaling.NewDescribeLaunchConfigurationsPaginator(c.ASG, &autoscaling.DescribeLaunchConfigurationsInput{})
	for lp.HasMorePages() {
		out, err := lp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list launch configurations in %s: %w", c.Region, err)
		}
		for _, lc := range out.LaunchConfigurations {
			u := Use{Kind: "launch-configuration", ID: aws.ToString(lc.LaunchConfigurationName)}
			r.Configs = append(r.Configs, u)
			add(aws.ToString(lc.ImageId), u)
		}
	}

	// Instances that are not gone.
	ip := ec2.NewDescribeInstancesPaginator(c.EC2, &ec2.DescribeInstancesInput{Filters: []types.Filter{{
		Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"},
	}}})
	for ip.HasMorePages() {
		out, err := ip.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list instances in %s: %w", c.Region, err)
		}
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				state := ""
				if in.State != nil {
					state = string(in.State.Name)
				}
				u := Use{Kind: "instance", ID: aws.ToString(in.InstanceId), State: state}
				r.Instances = append(r.Instances, u)
				add(aws.ToString(in.ImageId), u)
			}
		}
	}
	for _, us := range r.image {
		sort.SliceStable(us, func(i, j int) bool { return kindOrder[us[i].Kind] < kindOrder[us[j].Kind] })
	}
	return r, nil
}

var kindOrder = map[string]int{"autoscaling-group": 0, "launch-template-version": 1, "launch-configuration": 2, "instance": 3}

func (c *Catalog) templateVersions(ctx context.Context, id string, def, latest int64) ([]TemplateVersion, error) {
	var vs []TemplateVersion
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(c.EC2, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), MaxResults: aws.Int32(200)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list versions of launch template %s: %w", id, err)
		}
		for _, v := range out.LaunchTemplateVersions {
			vs = append(vs, templateVersion(v, def, latest))
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Version < vs[j].Version })
	return vs, nil
}

func templateVersion(v types.LaunchTemplateVersion, def, latest int64) TemplateVersion {
	tv := TemplateVersion{
		TemplateID: aws.ToString(v.LaunchTemplateId), TemplateName: aws.ToString(v.LaunchTemplateName),
		Version: aws.ToInt64(v.VersionNumber), Description: aws.ToString(v.VersionDescription),
		Created: aws.ToTime(v.CreateTime).UTC(),
	}
	tv.Default = aws.ToBool(v.DefaultVersion) || (def != 0 && tv.Version == def)
	tv.Latest = latest != 0 && tv.Version == latest
	if v.LaunchTemplateData != nil {
		tv.ImageID = aws.ToString(v.LaunchTemplateData.ImageId)
	}
	return tv
}

// templateRef is how a group names its launch template.
type templateRef struct {
	id, name string
	version  string // "$Default", "$Latest" or a number
	mixed    bool
}

func (s *templateRef) matches(v TemplateVersion) bool {
	switch s.version {
	case "$Default", "":
		return v.Default
	case "$Latest":
		return v.Latest
	}
	n, err := strconv.ParseInt(s.version, 10, 64)
	return err == nil && n == v.Version
}
