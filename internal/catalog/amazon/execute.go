package amazon

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ExecOptions tune Execute.
type ExecOptions struct {
	// Wait follows the refresh until it ends and fails unless it succeeds.
	Wait bool
	// Progress receives one line per step done and per refresh change.
	Progress func(string)
}

// Result is what Execute did.
type Result struct {
	// Version is the launch template version the group launches now.
	Version int64 `json:"version"`
	// Created is set when Execute created that version.
	Created bool `json:"created"`
	// Refresh is the refresh started (its last known state with Wait).
	Refresh *Refresh `json:"refresh,omitempty"`
}

// PartialError reports a plan that failed part way: what was done, where
// things stand, and how to go on.
type PartialError struct {
	Step  string   // the step that failed
	Done  []string // the steps that were done
	State string   // what the group launches now
	Next  string   // how to continue
	Err   error
}

func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.Step, e.Err)
	for _, d := range e.Done {
		fmt.Fprintf(&b, "\n  done: %s", d)
	}
	if e.State != "" {
		fmt.Fprintf(&b, "\n  now: %s", e.State)
	}
	if e.Next != "" {
		fmt.Fprintf(&b, "\n  to continue: %s", e.Next)
	}
	return b.String()
}

func (e *PartialError) Unwrap() error { return e.Err }

// Execute carries out a plan, step by step. A failure is a *PartialError
// that says exactly what was done.
func (c *Catalog) Execute(ctx context.Context, p *Plan, o ExecOptions) (*Result, error) {
	say := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	res := &Result{Version: p.FromVersion}
	var done []string
	again := fmt.Sprintf("`pipbake promote --asg %s --image %s --region %s`", p.Group, p.To.ID, p.Region)
	fail := func(s step, err error, state, next string) error {
		return &PartialError{Step: s.text, Done: done, State: state, Next: next, Err: err}
	}
	before := fmt.Sprintf("the group %s still launches version %d (%s), as before", p.Group, p.FromVersion, p.FromImage)
	for _, s := range p.steps() {
		switch s.kind {
		case stepCancel:
			if err := c.cancelRefresh(ctx, p.Group, p.CancelRefresh, say); err != nil {
				return nil, fail(s, err, before, "run the same command again")
			}
		case stepCreate:
			out, err := c.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
				LaunchTemplateId:   aws.String(p.TemplateID),
				SourceVersion:      aws.String(strconv.FormatInt(p.FromVersion, 10)),
				VersionDescription: aws.String(p.Description),
				LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(p.To.ID)},
			})
			if err != nil {
				return nil, fail(s, fmt.Errorf("create launch template version: %w", err), before, "run the same command again")
			}
			n := aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
			res.Created = true
			if n != p.NewVersion {
				say(fmt.Sprintf("note: the new version is %d, not %d: someone else created a version meanwhile", n, p.NewVersion))
				p.GroupTags[TagGroupLastChange] = strings.Replace(p.GroupTags[TagGroupLastChange], fmt.Sprintf(" version %d ", p.NewVersion), fmt.Sprintf(" version %d ", n), 1)
				p.NewVersion = n
			}
			done = append(done, fmt.Sprintf("created version %d of launch template %s with ImageId %s", n, p.template(), p.To.ID))
			if p.Switch == "latest" {
				res.Version = n
				done[len(done)-1] += fmt.Sprintf("; the group uses $Latest, so it launches %s from now on", p.To.ID)
			}
			say(done[len(done)-1])
		case stepSwitch:
			var err error
			if p.Switch == "default" {
				_, err = c.EC2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
					LaunchTemplateId: aws.String(p.TemplateID), DefaultVersion: aws.String(strconv.FormatInt(p.NewVersion, 10)),
				})
				if err != nil {
					err = fmt.Errorf("set the default version of %s: %w", p.TemplateID, err)
				}
			} else {
				in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(p.Group)}
				spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(p.TemplateID), Version: aws.String(strconv.FormatInt(p.NewVersion, 10))}
				if p.Mixed {
					in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: spec}}
				} else {
					in.LaunchTemplate = spec
				}
				if _, err = c.ASG.UpdateAutoScalingGroup(ctx, in); err != nil {
					err = fmt.Errorf("update autoscaling group %s: %w", p.Group, err)
				}
			}
			if err != nil {
				return nil, fail(s, err,
					fmt.Sprintf("version %d of %s was created (ImageId %s), but the group %s still launches version %d (%s)", p.NewVersion, p.template(), p.To.ID, p.Group, p.FromVersion, p.FromImage),
					fmt.Sprintf("run %s again (it creates another version), or delete version %d: `aws ec2 delete-launch-template-versions --region %s --launch-template-id %s --versions %d`", again, p.NewVersion, p.Region, p.TemplateID, p.NewVersion))
			}
			res.Version = p.NewVersion
			done = append(done, fmt.Sprintf("the group %s launches version %d (%s) from now on", p.Group, p.NewVersion, p.To.ID))
			say(done[len(done)-1])
		case stepTag:
			if p.NewVersion != 0 {
				res.Version = p.NewVersion
			}
			var tags []astypes.Tag
			keys := make([]string, 0, len(p.GroupTags))
			for k := range p.GroupTags {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				tags = append(tags, astypes.Tag{ResourceId: aws.String(p.Group), ResourceType: aws.String("auto-scaling-group"),
					Key: aws.String(k), Value: aws.String(p.GroupTags[k]), PropagateAtLaunch: aws.Bool(false)})
			}
			if _, err := c.ASG.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: tags}); err != nil {
				return nil, fail(s, fmt.Errorf("tag autoscaling group %s: %w", p.Group, err), c.nowLaunches(p, res, false),
					fmt.Sprintf("run %s (it creates no new version; it tags the group and starts the refresh)", again))
			}
			done = append(done, fmt.Sprintf("tagged the group %s", p.Group))
			say(done[len(done)-1])
		case stepRefresh:
			id, err := c.startRefresh(ctx, p.Group, p.Refresh)
			if err != nil {
				return nil, fail(s, err, c.nowLaunches(p, res, false),
					fmt.Sprintf("run %s (it creates no new version; it starts the refresh)", again))
			}
			res.Refresh = &Refresh{ID: id, Group: p.Group, Status: "Pending"}
			done = append(done, fmt.Sprintf("started instance refresh %s of %s", id, p.Group))
			say(done[len(done)-1])
			if o.Wait {
				r, err := c.WaitRefresh(ctx, p.Group, id, say)
				if r != nil {
					res.Refresh = r
				}
				if err != nil {
					back := fmt.Sprintf("`pipbake rollback --asg %s --region %s` goes back a release", p.Group, p.Region)
					if p.FromImage != "" {
						back = fmt.Sprintf("`pipbake promote --asg %s --image %s --region %s` goes back to the image it launched before", p.Group, p.FromImage, p.Region)
					}
					return res, &PartialError{Step: "wait for " + s.text, Done: done, State: c.nowLaunches(p, res, true), Next: back, Err: err}
				}
			}
		}
	}
	return res, nil
}

// nowLaunches describes a group whose template moved to the plan's image.
func (c *Catalog) nowLaunches(p *Plan, res *Result, refreshed bool) string {
	s := fmt.Sprintf("the group %s launches version %d (%s)", p.Group, res.Version, p.To.ID)
	if !refreshed && p.FromImage != p.To.ID {
		s += fmt.Sprintf(", but no instance refresh was started: running instances keep %s", p.FromImage)
	}
	return s
}
