package amazon

import (
	"context"
	"errors"
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
	// Version is the launch template version the group launches now;
	// Target the one it launches once the refresh succeeds (the same
	// unless a refresh that moves the group is still going on).
	Version int64 `json:"version"`
	Target  int64 `json:"target_version"`
	// Created is set when Execute created a version.
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

// execution is one plan being carried out: the state its phases share.
type execution struct {
	c    *Catalog
	p    *Plan
	o    ExecOptions
	res  *Result
	done []string
	// started is set once the refresh is started: a failure after it is
	// the refresh's own.
	started bool
}

// Execute carries out a plan, phase by phase (cancel a refresh, create
// the version, switch the group, start and follow the refresh, tag the
// group). A failure is a *PartialError that says what was done, where the
// group stands, and how to go on; the result says the same.
func (c *Catalog) Execute(ctx context.Context, p *Plan, o ExecOptions) (*Result, error) {
	x := &execution{c: c, p: p, o: o, res: &Result{Version: p.FromVersion, Target: p.target()}}
	for _, s := range p.steps() {
		if err := x.phase(ctx, s); err != nil {
			return x.res, x.partial(s, err)
		}
	}
	return x.res, nil
}

func (x *execution) phase(ctx context.Context, s step) error {
	switch s.kind {
	case stepCancel:
		return x.c.cancelRefresh(ctx, x.p.Group, x.p.CancelRefresh, x.say)
	case stepCreate:
		return x.create(ctx)
	case stepPin:
		return x.pin(ctx)
	case stepSwitch:
		return x.switchGroup(ctx)
	case stepRefresh:
		return x.refresh(ctx)
	case stepTag:
		return x.tag(ctx)
	}
	return fmt.Errorf("unknown step %d", s.kind)
}

func (x *execution) say(s string) {
	if x.o.Progress != nil {
		x.o.Progress(s)
	}
}

func (x *execution) did(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	x.done = append(x.done, s)
	x.say(s)
}

func (x *execution) create(ctx context.Context) error {
	p := x.p
	out, err := x.c.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId:   aws.String(p.TemplateID),
		SourceVersion:      aws.String(strconv.FormatInt(p.FromVersion, 10)),
		VersionDescription: aws.String(p.Description),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(p.To.ID)},
	})
	if err != nil {
		return fmt.Errorf("create launch template version: %w", err)
	}
	n := aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
	x.res.Created = true
	if n != p.NewVersion {
		x.say(fmt.Sprintf("note: the new version is %d, not %d: someone else created a version meanwhile", n, p.NewVersion))
		p.GroupTags[TagGroupLastChange] = strings.Replace(p.GroupTags[TagGroupLastChange], fmt.Sprintf(" version %d ", p.NewVersion), fmt.Sprintf(" version %d ", n), 1)
		p.NewVersion = n
		if p.Refresh != nil {
			p.Refresh.DesiredVersion = n
		}
	}
	x.res.Target = n
	if p.Switch == "latest" {
		x.res.Version = n
		x.did("created version %d of launch template %s with ImageId %s; the group uses $Latest, so it launches %s from now on", n, p.template(), p.To.ID, p.To.ID)
		return nil
	}
	x.did("created version %d of launch template %s with ImageId %s", n, p.template(), p.To.ID)
	return nil
}

// pin makes a group on $Latest name the version it launches.
func (x *execution) pin(ctx context.Context) error {
	if err := x.c.setGroupVersion(ctx, x.p, x.p.FromVersion); err != nil {
		return err
	}
	x.did("the group %s names version %d, which it launched through %s", x.p.Group, x.p.FromVersion, x.p.VersionSpec)
	return nil
}

// setGroupVersion makes the group name a launch template version.
func (c *Catalog) setGroupVersion(ctx context.Context, p *Plan, v int64) error {
	in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(p.Group)}
	spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(p.TemplateID), Version: aws.String(strconv.FormatInt(v, 10))}
	if p.Mixed {
		in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: spec}}
	} else {
		in.LaunchTemplate = spec
	}
	if _, err := c.ASG.UpdateAutoScalingGroup(ctx, in); err != nil {
		return fmt.Errorf("update autoscaling group %s: %w", p.Group, err)
	}
	return nil
}

func (x *execution) switchGroup(ctx context.Context) error {
	p := x.p
	if p.Switch == "default" {
		version := aws.String(strconv.FormatInt(p.NewVersion, 10))
		if _, err := x.c.EC2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(p.TemplateID), DefaultVersion: version}); err != nil {
			return fmt.Errorf("set the default version of %s: %w", p.TemplateID, err)
		}
	} else if err := x.c.setGroupVersion(ctx, p, p.NewVersion); err != nil {
		return err
	}
	x.res.Version = p.NewVersion
	x.did("the group %s launches version %d (%s) from now on", p.Group, p.NewVersion, p.To.ID)
	return nil
}

func (x *execution) refresh(ctx context.Context) error {
	p := x.p
	id, err := x.c.startRefresh(ctx, p)
	if err != nil {
		return err
	}
	x.started = true
	x.res.Refresh = &Refresh{ID: id, Group: p.Group, Status: "Pending"}
	x.did("started instance refresh %s of %s", id, p.Group)
	if !x.o.Wait {
		return nil
	}
	r, err := x.c.WaitRefresh(ctx, p.Group, id, x.say)
	if r != nil {
		x.res.Refresh = r
	}
	if err != nil {
		return err
	}
	x.res.Version = p.Refresh.DesiredVersion
	x.did("instance refresh %s of %s succeeded: the group launches version %d (%s)", id, p.Group, x.res.Version, p.To.ID)
	return nil
}

func (x *execution) tag(ctx context.Context) error {
	p := x.p
	keys := make([]string, 0, len(p.GroupTags))
	for k := range p.GroupTags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var tags []astypes.Tag
	for _, k := range keys {
		tags = append(tags, astypes.Tag{ResourceId: aws.String(p.Group), ResourceType: aws.String("auto-scaling-group"),
			Key: aws.String(k), Value: aws.String(p.GroupTags[k]), PropagateAtLaunch: aws.Bool(false)})
	}
	if _, err := x.c.ASG.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: tags}); err != nil {
		return fmt.Errorf("tag autoscaling group %s: %w", p.Group, err)
	}
	x.did("tagged the group %s", p.Group)
	return nil
}

// partial wraps a phase's error, once, with what was done, where the
// group stands and how to go on.
func (x *execution) partial(s step, err error) error {
	pe := &PartialError{Step: s.text, Done: x.done, Err: err}
	if s.kind == stepRefresh && x.started {
		pe.Step = "wait for " + s.text
	}
	pe.State, pe.Next = x.where(s, err)
	return pe
}

// where says where the group stands after a failure in step s, and how to
// go on.
func (x *execution) where(s step, err error) (state, next string) {
	p := x.p
	again := fmt.Sprintf("`pipbake promote --asg %s --image %s --region %s`", p.Group, p.To.ID, p.Region)
	before := fmt.Sprintf("the group %s still launches version %d (%s), as before", p.Group, p.FromVersion, p.FromImage)
	moved := x.res.Version == x.res.Target // the group's configuration names the plan's version
	switch {
	case s.kind == stepCancel || s.kind == stepPin || s.kind == stepCreate:
		if x.p.Pin && s.kind == stepCreate {
			before = fmt.Sprintf("the group %s names version %d (%s), which it launched through %s", p.Group, p.FromVersion, p.FromImage, p.VersionSpec)
		}
		return before, "run the same command again"
	case s.kind == stepSwitch || (s.kind == stepRefresh && !x.started && !moved):
		state = fmt.Sprintf("version %d of %s was created (ImageId %s), but the group %s still launches version %d (%s)", p.NewVersion, p.template(), p.To.ID, p.Group, p.FromVersion, p.FromImage)
		next = fmt.Sprintf("run the same command again (it creates another version), or delete version %d: `aws ec2 delete-launch-template-versions --region %s --launch-template-id %s --versions %d`",
			p.NewVersion, p.Region, p.TemplateID, p.NewVersion)
		return state, next
	case s.kind == stepRefresh && !x.started:
		return x.launches(false), fmt.Sprintf("run %s (it creates no new version; it starts the refresh)", again)
	case s.kind == stepRefresh:
		return x.afterRefresh(err, again)
	}
	return x.launches(true), fmt.Sprintf("tags are pipbake's record only: run %s (it creates no new version; its refresh skips instances that already match)", again)
}

// afterRefresh says where a group stands when its refresh did not
// succeed.
func (x *execution) afterRefresh(err error, again string) (state, next string) {
	p := x.p
	back := fmt.Sprintf("`pipbake rollback --asg %s --region %s` goes back to what it launched before", p.Group, p.Region)
	var re *RefreshError
	if !errors.As(err, &re) {
		// Waiting stopped (interrupted, or an API error): the refresh goes on.
		return fmt.Sprintf("instance refresh %s of %s goes on without pipbake watching; when it succeeds the group launches version %d (%s)", x.res.Refresh.ID, p.Group, x.res.Target, p.To.ID),
			fmt.Sprintf("follow it with `aws autoscaling describe-instance-refreshes --auto-scaling-group-name %s --region %s`", p.Group, p.Region)
	}
	if x.res.Version == x.res.Target && x.res.Version != p.FromVersion {
		// The switch came before the refresh ($Latest): the group launches the new image.
		return fmt.Sprintf("the group %s launches version %d (%s); %s", p.Group, x.res.Version, p.To.ID, re.Refresh), back
	}
	if re.Refresh.RolledBack() {
		return fmt.Sprintf("AWS rolled the refresh back: the group %s launches version %d (%s) as before; version %d (%s) stays in the template, unused",
				p.Group, p.FromVersion, p.FromImage, x.res.Target, p.To.ID),
			"find why the refresh failed (its reason above, the alarms, `aws autoscaling describe-scaling-activities`), then run the command again"
	}
	return fmt.Sprintf("the group %s still launches version %d (%s), but the refresh replaced some instances with %s before it stopped", p.Group, p.FromVersion, p.FromImage, p.To.ID),
		fmt.Sprintf("`pipbake promote --asg %s --image %s --region %s` replaces them with %s again; or run the command again", p.Group, p.FromImage, p.Region, p.FromImage)
}

// launches describes a group whose template moved to the plan's image.
func (x *execution) launches(refreshed bool) string {
	p := x.p
	s := fmt.Sprintf("the group %s launches version %d (%s)", p.Group, x.res.Version, p.To.ID)
	if x.res.Version != x.res.Target {
		s = fmt.Sprintf("the group %s launches version %d (%s) until its refresh succeeds, then version %d (%s)", p.Group, x.res.Version, p.FromImage, x.res.Target, p.To.ID)
	}
	if !refreshed && p.FromImage != p.To.ID {
		s += fmt.Sprintf(", but no instance refresh was started: running instances keep %s", p.FromImage)
	}
	return s
}
