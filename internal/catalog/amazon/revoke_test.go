package amazon_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/asgfront"
)

func TestRevokedReleases(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	e.Catalog.Now = func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }
	rel := bakeReleases(t, e, "1", "2", "3", "4")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 1)
	for _, r := range []string{"2", "3"} {
		p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: r}))
		if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
			t.Fatal(err)
		}
	}

	// Revoke 2: planned, then done; the group running 3 is not warned.
	p, err := e.Catalog.PlanRevoke(ctx, rel.family, "2", "CVE-2026-1234 in flask")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); !strings.Contains(s, "revoke "+rel.family+"@2 in us-east-1\n  tag "+rel.family+"@2 ("+rel.ami["2"]+`): pipbake:revoked="CVE-2026-1234 in flask" pipbake:revoked-at=2026-11-26T10:00:00Z`) ||
		strings.Contains(s, "warning") {
		t.Errorf("plan:\n%s", s)
	}
	if err := e.Catalog.ExecuteRevoke(ctx, p); err != nil {
		t.Fatal(err)
	}
	list, err := e.Catalog.Images(ctx, rel.family)
	if err != nil {
		t.Fatal(err)
	}
	if r := list[1].Revoked; r == nil || r.Reason != "CVE-2026-1234 in flask" || !r.At.Equal(e.Catalog.Now()) || list[0].Revoked != nil {
		t.Fatalf("images: %+v %+v", list[1].Revoked, list[0].Revoked)
	}
	if list[1].Tags[catalog.TagFamily] != rel.family {
		t.Error("revoking changed the release's tags")
	}

	// promote refuses it; --force says so loudly.
	_, err = e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"})
	if !amazon.IsRefusal(err) || !strings.Contains(err.Error(), rel.family+"@2 ("+rel.ami["2"]+") is revoked 2026-11-26T10:00:00Z: CVE-2026-1234 in flask; pass --force to promote it anyway") {
		t.Errorf("promote revoked: %v", err)
	}
	forced := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2", Force: true, NoRefresh: true}))
	if !strings.HasPrefix(forced.String(), "WARNING: PROMOTE TO A REVOKED RELEASE (--force): "+rel.family+"@2") {
		t.Errorf("forced plan:\n%s", forced)
	}

	// rollback from 3 passes over 2 to 1, and says so.
	rb := mustPlan(t)(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
	if rb.To.ID != rel.ami["1"] || len(rb.Skipped) != 1 || !strings.Contains(rb.String(), "skipped "+rel.family+"@2 ("+rel.ami["2"]+") (version 2): revoked 2026-11-26T10:00:00Z: CVE-2026-1234 in flask") {
		t.Fatalf("rollback:\n%s", rb)
	}
	// --to a revoked release needs --force too.
	if _, err := e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: "2"}); !amazon.IsRefusal(err) || !strings.Contains(err.Error(), "pass --force to rollback it anyway") {
		t.Errorf("rollback --to revoked: %v", err)
	}
	// Revoking what the group runs warns.
	p, err = e.Catalog.PlanRevoke(ctx, rel.family, "3", "leaks memory")
	if err != nil || !strings.Contains(p.String(), "warning: group "+group+" launches it now; `pipbake rollback --asg "+group) {
		t.Errorf("revoke the running release: %v\n%s", err, p)
	}

	// prune: revoked releases do not count among the newest and go first
	// (unless in use: 2 is still referenced by a launch template version).
	e.Bake(t, rel.family, "5", "x86_64")
	p5, _ := e.Catalog.PlanRevoke(ctx, rel.family, "5", "bad build")
	if err := e.Catalog.ExecuteRevoke(ctx, p5); err != nil {
		t.Fatal(err)
	}
	pp, err := e.Catalog.PlanPrune(ctx, rel.family, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := pp.String()
	for _, want := range []string{"keep   " + rel.family + "@4 (", "one of the newest 1", "delete " + rel.family + "@5 (", "(revoked 2026-11-26T10:00:00Z: bad build)"} {
		if !strings.Contains(s, want) {
			t.Errorf("prune lacks %q:\n%s", want, s)
		}
	}
	if len(pp.Delete) != 1 || pp.Delete[0].Image.Release.Release != "5" {
		t.Errorf("prune deletes %+v", pp.Delete)
	}

	// unrevoke: the tags go; promote accepts it again.
	up, err := e.Catalog.PlanUnrevoke(ctx, rel.family, "2")
	if err != nil || len(up.Images) != 1 || !strings.Contains(up.String(), "untag "+rel.family+"@2") {
		t.Fatalf("unrevoke plan: %v\n%s", err, up)
	}
	if err := e.Catalog.ExecuteRevoke(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"}); err != nil {
		t.Errorf("promote after unrevoke: %v", err)
	}
	if up, _ := e.Catalog.PlanUnrevoke(ctx, rel.family, "2"); len(up.Images) != 0 || !strings.Contains(up.String(), "nothing to do") {
		t.Errorf("unrevoke twice:\n%s", up)
	}
	// Bad reasons, and a tagging failure that says to run it again.
	if _, err := e.Catalog.PlanRevoke(ctx, rel.family, "1", " "); err == nil || !strings.Contains(err.Error(), "the reason is empty") {
		t.Errorf("empty reason: %v", err)
	}
	e.Front.Inject(asgfront.Fault{Service: "ec2", Action: "CreateTags", Times: 1, Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."})
	p1, _ := e.Catalog.PlanRevoke(ctx, rel.family, "1", "x")
	if err := e.Catalog.ExecuteRevoke(ctx, p1); err == nil || !strings.Contains(err.Error(), "run it again: it is idempotent") || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("failed revoke: %v", err)
	}
}

// TestRolloutOfSeveralGroups: one plan for all, applied group by group,
// stopping at the first failure with what was done and how to go on.
func TestRolloutOfSeveralGroups(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	var groups []string
	for i := 0; i < 3; i++ {
		lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
		g := amazontest.Unique("web")
		e.Group(t, g, lt, "1", 1)
		groups = append(groups, g)
	}
	// Every group is planned before any changes: a group that cannot be
	// planned stops it all.
	_, err := e.Catalog.PlanRollout(ctx, "promote", append(append([]string{}, groups...), "no-such-group"), amazon.ChangeOptions{Release: "2"})
	if !errors.Is(err, amazon.ErrGroupNotFound) || !strings.Contains(err.Error(), "plan group no-such-group of 4") {
		t.Fatalf("unknown group: %v", err)
	}
	for _, g := range groups {
		if _, im := e.GroupImage(t, g); im != rel.ami["1"] {
			t.Fatal("planning changed a group")
		}
	}

	// --asg-tag: the groups tagged pipbake:family=F (the first promote
	// tags them).
	for _, g := range groups[:2] {
		e.ASG.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{{ResourceId: aws.String(g), ResourceType: aws.String("auto-scaling-group"),
			Key: aws.String("team"), Value: aws.String(rel.family)}}})
	}
	want := []string{groups[0], groups[1]}
	sort.Strings(want)
	if tagged, err := e.Catalog.GroupsTagged(ctx, "team", rel.family); err != nil || !slices.Equal(tagged, want) {
		t.Errorf("groups tagged: %v %v", tagged, err)
	}

	r, err := e.Catalog.PlanRollout(ctx, "promote", groups, amazon.ChangeOptions{Release: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.String(); !strings.HasPrefix(s, "promote 3 autoscaling groups in us-east-1, one after another, stopping at the first failure: "+strings.Join(groups, ", ")) ||
		!strings.Contains(s, "[3/3] promote autoscaling group "+groups[2]) {
		t.Errorf("rollout:\n%s", s)
	}
	// The second group's refresh fails its health checks.
	e.Front.Inject(asgfront.Fault{Service: "autoscaling", Action: "StartInstanceRefresh", Times: 1, Code: "ValidationError", Message: "An Instance Refresh cannot be started for " + groups[1],
		Match: func(v url.Values) bool { return v.Get("AutoScalingGroupName") == groups[1] }})
	_, err = e.Catalog.ExecuteRollout(ctx, r, amazon.ExecOptions{Wait: true})
	var re *amazon.RolloutError
	if !errors.As(err, &re) {
		t.Fatalf("want a RolloutError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"group " + groups[1] + ": start an instance refresh of " + groups[1],
		"groups done: " + groups[0] + "\n",
		"groups not started: " + groups[2] + "\n",
		"to continue with the rest: once " + groups[1] + " is sorted out, `pipbake promote --asg " + groups[2] + " --image " + rel.ami["2"] + " --region us-east-1` with the same options",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for i, want := range []string{"2", "1", "1"} {
		if _, im := e.GroupImage(t, groups[i]); im != rel.ami[want] {
			t.Errorf("group %d launches %s, want release %s", i, im, want)
		}
	}
}
