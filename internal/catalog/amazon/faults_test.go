package amazon_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/asgfront"
)

func TestUnknownGroupAndLaunchConfiguration(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	_, err := e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: "no-such-group", Image: "ami-12345678"})
	if !errors.Is(err, amazon.ErrGroupNotFound) || !strings.Contains(err.Error(), `autoscaling group "no-such-group" in us-east-1`) {
		t.Errorf("unknown group: %v", err)
	}

	rel := bakeReleases(t, e, "1", "2")
	lc, group := amazontest.Unique("lc"), amazontest.Unique("legacy")
	if _, err := e.ASG.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{
		LaunchConfigurationName: aws.String(lc), ImageId: aws.String(rel.ami["1"]), InstanceType: aws.String("t3.micro"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ASG.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), LaunchConfigurationName: aws.String(lc),
		MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{amazontest.Region + "a"},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group})
	if !errors.Is(err, amazon.ErrLaunchConfiguration) || !strings.Contains(err.Error(), "uses launch configuration "+lc) || !strings.Contains(err.Error(), "Move the group to a launch template first") {
		t.Errorf("launch configuration: %v", err)
	}
	// The launch configuration's image counts as used.
	list, err := e.Catalog.Images(ctx, rel.family)
	if err != nil {
		t.Fatal(err)
	}
	if len(list[0].UsedBy) == 0 || list[0].UsedBy[0].String() != "launch configuration "+lc {
		t.Errorf("uses: %+v", list[0].UsedBy)
	}
}

// TestThrottlingIsRetried proves the SDK retryer's backoff: the front
// answers Throttling a few times, then lets the call through.
func TestThrottlingIsRetried(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 0)

	e.Front.Throttle("StartInstanceRefresh", 3)
	e.Front.Throttle("DescribeInstanceRefreshes", 2)
	e.Front.Throttle("CreateLaunchTemplateVersion", 2)
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"}))
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if n := e.Front.Calls("StartInstanceRefresh"); n != 4 {
		t.Errorf("StartInstanceRefresh was called %d times, want 4 (3 throttled)", n)
	}
	if n := e.Front.Calls("CreateLaunchTemplateVersion"); n != 3 {
		t.Errorf("CreateLaunchTemplateVersion was called %d times, want 3", n)
	}

	// Throttled past the retryer's 5 attempts: a clear failure, with the
	// state and the way on.
	e.Front.Throttle("StartInstanceRefresh", 5)
	p = mustPlan(t)(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
	_, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{})
	var pe *amazon.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PartialError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"start an instance refresh of " + group, "Throttling", "Rate exceeded", "exceeded maximum number of attempts, 5",
		"done: created version 3 of launch template",
		"now: version 3 of ", "was created (ImageId " + rel.ami["1"] + "), but the group " + group + " still launches version 2 (" + rel.ami["2"] + ")",
		"to continue: run the same command again (it creates another version), or delete version 3: `aws ec2 delete-launch-template-versions",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if v, im := e.GroupImage(t, group); v != 2 || im != rel.ami["2"] {
		t.Errorf("the group moved: version %d %s", v, im)
	}
	// ... and that command goes through.
	p = mustPlan(t)(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
	if p.NewVersion != 4 || p.To.ID != rel.ami["1"] {
		t.Fatalf("continue plan:\n%s", p)
	}
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if v, im := e.GroupImage(t, group); v != 4 || im != rel.ami["1"] {
		t.Errorf("after the rollback: version %d %s", v, im)
	}
}

// TestFailureBetweenVersionAndSwitch: the version is created, switching
// the group fails; the group keeps its old version and the error says so.
func TestFailureBetweenVersionAndSwitch(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")

	for _, tc := range []struct{ spec, action, service string }{
		{"$Default", "ModifyLaunchTemplate", "ec2"},
		{"1", "UpdateAutoScalingGroup", "autoscaling"},
	} {
		lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
		group := amazontest.Unique("web")
		e.Group(t, group, lt, tc.spec, 0)
		e.Front.Inject(asgfront.Fault{Service: tc.service, Action: tc.action, Times: 1, Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."})
		p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2", NoRefresh: true}))
		_, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{})
		var pe *amazon.PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: want a PartialError, got %v", tc.action, err)
		}
		msg := err.Error()
		for _, want := range []string{
			"UnauthorizedOperation",
			"done: created version 2 of launch template",
			"now: version 2 of", "(ImageId " + rel.ami["2"] + "), but the group " + group + " still launches version 1 (" + rel.ami["1"] + ")",
			"to continue: run the same command again (it creates another version)",
			"aws ec2 delete-launch-template-versions --region us-east-1 --launch-template-id " + lt + " --versions 2",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error lacks %q:\n%s", tc.action, want, msg)
			}
		}
		if v, im := e.GroupImage(t, group); v != 1 || im != rel.ami["1"] {
			t.Errorf("%s: the group moved: version %d %s", tc.action, v, im)
		}
		out, err := e.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(lt), Versions: []string{"2"}})
		if err != nil || len(out.LaunchTemplateVersions) != 1 {
			t.Errorf("%s: version 2: %v", tc.action, err)
		}
		if len(e.Front.Refreshes(group)) != 0 {
			t.Errorf("%s: a refresh was started", tc.action)
		}
		// Running it again goes through (with a new version).
		p = mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Image: rel.ami["2"]}))
		if res, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil || res.Version != 3 {
			t.Fatalf("%s: again: %+v %v", tc.action, res, err)
		}
	}
}

func TestWaitFailsWhenTheRefreshFails(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 0)
	e.Front.SetOutcome("Failed", "Instances failed to pass health checks.")
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"}))
	res, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true})
	if err == nil || res == nil || res.Refresh.Status != "Failed" {
		t.Fatalf("%+v %v", res, err)
	}
	for _, want := range []string{"ended Failed: Instances failed to pass health checks.",
		"now: the group " + group + " still launches version 1 (" + rel.ami["1"] + "), but the refresh replaced some instances with " + rel.ami["2"] + " before it stopped",
		"to continue: `pipbake promote --asg " + group + " --image " + rel.ami["1"] + " --region us-east-1` replaces them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
