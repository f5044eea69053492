package amazon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
)

func TestPruneKeepsTheNewestAndEverythingInUse(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2", "3", "4", "5")
	// 2: an old template version; 3: a group's current version; 4: a
	// running instance; 5: the newest; 1: nothing.
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["2"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 0)
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "3", NoRefresh: true}))
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	run, err := e.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(rel.ami["4"]), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{*run.Instances[0].InstanceId}})
	})

	plan, err := e.Catalog.PlanPrune(ctx, rel.family, 1)
	if err != nil {
		t.Fatal(err)
	}
	text := plan.String()
	for _, want := range []string{
		"keep   " + rel.family + "@5 (" + rel.ami["5"] + "): one of the newest 1",
		"keep   " + rel.family + "@4 (" + rel.ami["4"] + "): used by instance " + *run.Instances[0].InstanceId,
		"keep   " + rel.family + "@3 (" + rel.ami["3"] + "): used by autoscaling group " + group,
		"keep   " + rel.family + "@2 (" + rel.ami["2"] + "): used by launch template",
		"delete " + rel.family + "@1 (" + rel.ami["1"] + ") and its snapshots snap-",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if len(plan.Delete) != 1 {
		t.Fatalf("deletes %d", len(plan.Delete))
	}
	snap := plan.Delete[0].Image.Snapshots[0]

	// The plan alone changed nothing.
	if _, err := e.Catalog.Image(ctx, rel.ami["1"]); err != nil {
		t.Fatal(err)
	}
	var lines []string
	deleted, err := e.Catalog.ExecutePrune(ctx, plan, func(s string) { lines = append(lines, s) })
	if err != nil || len(deleted) != 1 || deleted[0] != rel.ami["1"] {
		t.Fatalf("prune: %v %v", deleted, err)
	}
	if _, err := e.Catalog.Image(ctx, rel.ami["1"]); err == nil {
		t.Error("release 1 is still registered")
	}
	if _, err := e.EC2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}}); err == nil {
		t.Errorf("snapshot %s is still there", snap)
	}
	list, _ := e.Catalog.Images(ctx, rel.family)
	if len(list) != 4 {
		t.Errorf("%d images left, want 4", len(list))
	}

	// An image that became used after planning is skipped.
	plan, err = e.Catalog.PlanPrune(ctx, rel.family, 1)
	if err != nil || len(plan.Delete) != 0 || !strings.Contains(plan.String(), "nothing to delete") {
		t.Fatalf("second prune: %v\n%s", err, plan)
	}
	extra := e.Bake(t, rel.family, "0", "x86_64")
	plan, _ = e.Catalog.PlanPrune(ctx, rel.family, 1)
	e.Template(t, amazontest.Unique("lt"), extra)
	deleted, err = e.Catalog.ExecutePrune(ctx, plan, func(s string) { lines = append(lines, s) })
	if err != nil || len(deleted) != 0 || !strings.Contains(strings.Join(lines, "\n"), "skip "+rel.family+"@0 ("+extra+"): it became used by launch template") {
		t.Errorf("race: %v %v\n%s", deleted, err, strings.Join(lines, "\n"))
	}
	if _, err := e.Catalog.PlanPrune(ctx, rel.family, 0); err == nil {
		t.Error("--keep 0 must be refused")
	}
}
