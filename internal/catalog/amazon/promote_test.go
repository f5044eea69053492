package amazon_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/asgfront"
)

type releases struct {
	family string
	ami    map[string]string
}

func bakeReleases(t *testing.T, e *amazontest.Env, ids ...string) releases {
	t.Helper()
	r := releases{family: amazontest.Unique("fam"), ami: map[string]string{}}
	for _, id := range ids {
		r.ami[id] = e.Bake(t, r.family, id, "x86_64")
	}
	return r
}

func mustPlan(t *testing.T) func(*amazon.Plan, error) *amazon.Plan {
	return func(p *amazon.Plan, err error) *amazon.Plan {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func groupTags(t *testing.T, e *amazontest.Env, group string) map[string]string {
	t.Helper()
	out, err := e.ASG.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.AutoScalingGroups[0].Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func TestPromoteThenRollBackTwice(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2", "3")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 1)

	// A group on $Default: the refresh's desired configuration is the new
	// version, which the group names once the refresh succeeds; AWS cannot
	// roll back a group on $Default, and the plan says so.
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"}))
	for _, want := range []string{
		"1. create version 2 of launch template",
		"2. start an instance refresh of " + group + " (desired configuration: version 2, skip matching, min healthy 90%, no auto rollback); when it succeeds, AWS sets the group to launch template version 2 (it names $Default now)",
		"3. tag group " + group,
		"no auto rollback: the group uses $Default of its launch template, and AWS rolls back only groups that name a version number",
	} {
		if !strings.Contains(p.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, p)
		}
	}
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if g, err := e.Catalog.Group(ctx, group); err != nil || g.VersionSpec != "2" || g.Image != rel.ami["2"] || g.DefaultVersion != 1 {
		t.Fatalf("after the refresh the group names version 2, the template's default is unchanged: %+v %v", g, err)
	}

	// Dry run: the plan, and nothing changes.
	warmup := int32(30)
	p = mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "3", MinHealthy: 75, Warmup: &warmup}))
	text := p.String()
	for _, want := range []string{
		"promote autoscaling group " + group,
		"the group uses 2",
		"before: version 2, " + rel.family + "@2 (" + rel.ami["2"] + ")",
		"after:  version 3, " + rel.family + "@3 (" + rel.ami["3"] + ")",
		"changes: " + rel.family + "@2 (" + rel.ami["2"] + ") -> " + rel.family + "@3 (" + rel.ami["3"] + ")\n    sets:\n      ~ api 2 -> 3\n",
		"1. create version 3 of launch template",
		"with ImageId " + rel.ami["3"],
		"2. start an instance refresh of " + group + " (desired configuration: version 3, skip matching, min healthy 75%, warmup 30s, auto rollback); when it succeeds, AWS sets the group to launch template version 3\n",
		"3. tag group " + group,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if v, im := e.GroupImage(t, group); v != 2 || im != rel.ami["2"] {
		t.Fatalf("planning changed the group: version %d %s", v, im)
	}

	// Execute the same plan, waiting for the refresh.
	var lines []string
	res, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true, Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 3 || !res.Created || res.Refresh == nil || res.Refresh.Status != "Successful" {
		t.Fatalf("result %+v %+v", res, res.Refresh)
	}
	if log := strings.Join(lines, "\n"); !strings.Contains(log, "InProgress, 50% done, 0 of 1 instances replaced") || !strings.Contains(log, "Successful, 100% done, 1 of 1 instances replaced") {
		t.Errorf("progress:\n%s", log)
	}
	if v, im := e.GroupImage(t, group); v != 3 || im != rel.ami["3"] {
		t.Fatalf("after promote: version %d %s", v, im)
	}
	refs := e.Front.Refreshes(group)
	if len(refs) != 2 || refs[0].Preference("SkipMatching") != "true" || refs[0].Preference("MinHealthyPercentage") != "75" ||
		refs[0].Preference("InstanceWarmup") != "30" || refs[0].Preference("AutoRollback") != "true" {
		t.Errorf("refresh request: %+v", refs)
	}
	if tmpl, v := refs[0].Desired(); tmpl != lt || v != "3" {
		t.Errorf("desired configuration: %s version %s, want %s version 3", tmpl, v, lt)
	}
	tags := groupTags(t, e, group)
	if tags["pipbake:family"] != rel.family || tags["pipbake:release"] != "3" || tags["pipbake:image"] != rel.ami["3"] ||
		!strings.Contains(tags["pipbake:last-change"], "promote "+rel.family+"@3") {
		t.Errorf("group tags: %v", tags)
	}

	// Roll back: 2, then 1, then nothing earlier.
	for _, want := range []string{"2", "1"} {
		p := mustPlan(t)(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
		if p.To.ID != rel.ami[want] || p.Action != "rollback" {
			t.Fatalf("rollback plan goes to %s, want release %s:\n%s", p.To.Label(), want, p)
		}
		if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
			t.Fatal(err)
		}
		if _, im := e.GroupImage(t, group); im != rel.ami[want] {
			t.Fatalf("after rollback the group launches %s, want %s", im, rel.ami[want])
		}
	}
	_, err = e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group})
	if !amazon.IsRefusal(err) || !strings.Contains(err.Error(), "nothing to go back to: version 5 ("+rel.family+"@1 "+rel.ami["1"]+") is where the group's history begins") {
		t.Fatalf("rollback from the oldest: %v", err)
	}

	// The record: each version's description.
	out, err := e.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(lt)})
	if err != nil {
		t.Fatal(err)
	}
	desc := map[int64]string{}
	for _, v := range out.LaunchTemplateVersions {
		desc[aws.ToInt64(v.VersionNumber)] = aws.ToString(v.VersionDescription)
	}
	if desc[3] != "pipbake promote, from version 2: "+rel.family+"@3 "+rel.ami["3"]+" (was "+rel.family+"@2 "+rel.ami["2"]+")" ||
		!strings.HasPrefix(desc[4], "pipbake rollback, from version 3, restores version 2: "+rel.family+"@2") ||
		!strings.HasSuffix(desc[5], "(was "+rel.family+"@2 "+rel.ami["2"]+")") {
		t.Errorf("descriptions: %v", desc)
	}
	// pipbake images shows them, and when the group ran each release.
	list, err := e.Catalog.Images(ctx, rel.family)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, u := range list[0].UsedBy {
		if u.Kind == "launch-template-version" && u.Version == 5 && strings.HasPrefix(u.Description, "pipbake rollback") {
			found = true
		}
	}
	if !found {
		t.Errorf("release 1's uses: %+v", list[0].UsedBy)
	}
	runs := list[0].Runs
	if len(runs) != 2 || runs[0].Version != 1 || runs[0].Current || runs[0].Until.IsZero() || runs[1].Version != 5 || !runs[1].Current || runs[1].Group != group {
		t.Errorf("release 1's runs: %+v", runs)
	}
	if r := list[2].Runs; len(r) != 1 || r[0].Version != 3 || r[0].Current {
		t.Errorf("release 3's runs: %+v", r)
	}

	// Rollback --to a release and promoting what the group already runs.
	p = mustPlan(t)(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: "1", NoRefresh: true}))
	if p.NewVersion != 0 || p.Refresh != nil || !strings.Contains(p.String(), "the group already launches this image") {
		t.Errorf("no-op plan:\n%s", p)
	}
}

func TestPromoteGroupsOnLatestAndOnANumber(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")

	// $Latest: creating the version is the switch; another group on the
	// template's $Default is not affected, one on $Latest is.
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	latest, other, def := amazontest.Unique("latest"), amazontest.Unique("other"), amazontest.Unique("def")
	e.Group(t, latest, lt, "$Latest", 0)
	e.Group(t, other, lt, "$Latest", 0)
	e.Group(t, def, lt, "$Default", 0)
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: latest, Release: "2", NoRefresh: true}))
	if p.Switch != "latest" || len(p.Affects) != 1 || !strings.Contains(p.Affects[0], "group "+other+" uses $Latest") || strings.Contains(p.String(), "2. make version") {
		t.Fatalf("plan:\n%s", p)
	}
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, im := e.GroupImage(t, latest); v != 2 || im != rel.ami["2"] {
		t.Errorf("$Latest group: version %d %s", v, im)
	}
	if v, im := e.GroupImage(t, def); v != 1 || im != rel.ami["1"] {
		t.Errorf("$Default group moved: version %d %s", v, im)
	}
	if len(e.Front.Refreshes(latest)) != 0 {
		t.Error("--no-refresh started a refresh")
	}

	// A group on $Latest with a refresh: it is pinned to the version it
	// launches first, so creating the new one changes nothing until the
	// refresh, which AWS may then roll back.
	lt3 := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	onLatest := amazontest.Unique("latest")
	e.Group(t, onLatest, lt3, "$Latest", 1)
	p = mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: onLatest, Release: "2"}))
	if !p.Pin || !p.Refresh.AutoRollback || !strings.Contains(p.String(), "1. update group "+onLatest+" to launch template version 1, which its $Latest is now (no instance changes)") ||
		!strings.Contains(p.String(), "2. create version 2") || !strings.Contains(p.String(), "auto rollback); when it succeeds, AWS sets the group to launch template version 2") {
		t.Fatalf("plan:\n%s", p)
	}
	res, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, im := e.GroupImage(t, onLatest); v != 1 || im != rel.ami["1"] {
		t.Errorf("before the refresh ends the group launches version %d %s", v, im)
	}
	if _, err := e.Catalog.WaitRefresh(ctx, onLatest, res.Refresh.ID, nil); err != nil {
		t.Fatal(err)
	}
	if v, im := e.GroupImage(t, onLatest); v != 2 || im != rel.ami["2"] {
		t.Errorf("after the refresh: version %d %s", v, im)
	}

	// A group naming version 1, without a refresh: the group itself is
	// updated.
	lt2 := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	pinned := amazontest.Unique("pinned")
	e.Group(t, pinned, lt2, "1", 0)
	p = mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: pinned, Image: rel.ami["2"], NoRefresh: true}))
	if p.Switch != "group" || !strings.Contains(p.String(), "update group "+pinned+" to launch template version 2 (it names version 1)") {
		t.Fatalf("plan:\n%s", p)
	}
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	g, err := e.Catalog.Group(ctx, pinned)
	if err != nil || g.VersionSpec != "2" || g.Image != rel.ami["2"] || g.DefaultVersion != 1 {
		t.Fatalf("pinned group after promote: %+v %v", g, err)
	}

	// With a refresh, the refresh moves it: the group keeps version 2
	// until the refresh succeeds (AWS can roll it back then).
	p = mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: pinned, Image: rel.ami["1"]}))
	if p.Switch != "refresh" || strings.Contains(p.String(), "update group") || !strings.Contains(p.String(), "auto rollback); when it succeeds, AWS sets the group to launch template version 3") {
		t.Fatalf("plan:\n%s", p)
	}
	res, err = e.Catalog.Execute(ctx, p, amazon.ExecOptions{})
	if err != nil || res.Version != 2 || res.Target != 3 {
		t.Fatalf("without waiting: %+v %v", res, err)
	}
	if v, _ := e.GroupImage(t, pinned); v != 2 {
		t.Errorf("the group names version %d before the refresh ended", v)
	}
	if _, err := e.Catalog.WaitRefresh(ctx, pinned, res.Refresh.ID, nil); err != nil {
		t.Fatal(err)
	}
	if v, im := e.GroupImage(t, pinned); v != 3 || im != rel.ami["1"] {
		t.Errorf("after the refresh: version %d %s", v, im)
	}
}

func TestRefusals(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2", "3")
	otherFamily := e.Bake(t, amazontest.Unique("other"), "1", "x86_64")
	arm := e.Bake(t, rel.family, "4", "arm64")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["2"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 0)

	refused := func(name string, err error, want string) {
		t.Helper()
		if !amazon.IsRefusal(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal with %q", name, err, want)
		}
	}
	_, err := e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: otherFamily})
	refused("another family", err, "is not a release of family "+rel.family)
	_, err = e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Image: otherFamily})
	refused("promote to another family", err, "pass --allow-family-change")
	_, err = e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "4"})
	refused("architecture", err, "the group runs x86_64 images ("+rel.ami["2"]+") and "+rel.family+"@4 ("+arm+") is arm64")
	_, err = e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "9"})
	refused("unknown release", err, "has no release 9 in us-east-1 (releases: 1, 2, 3, 4)")
	_, err = e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: "ami-0000000000000dead"})
	refused("unknown image", err, "image ami-0000000000000dead does not exist")

	// An image that is not available yet (moto's are at once: the front
	// shows it pending).
	e.Front.Rewrite("DescribeImages", func(b []byte) []byte {
		if strings.Contains(string(b), rel.ami["1"]) {
			return []byte(strings.Replace(string(b), "<imageState>available</imageState>", "<imageState>pending</imageState>", 1))
		}
		return b
	})
	_, err = e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: "1"})
	refused("pending", err, rel.family+"@1 ("+rel.ami["1"]+") is pending, not available")
	e.Front.Rewrite("DescribeImages", func(b []byte) []byte { return b })

	// A snapshot that is gone.
	im, err := e.Catalog.Image(ctx, rel.ami["1"])
	if err != nil {
		t.Fatal(err)
	}
	e.Front.Inject(asgfrontFault("DescribeSnapshots", im.Snapshots[0]))
	_, err = e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: "1"})
	refused("snapshot gone", err, "its snapshot "+im.Snapshots[0]+" is gone")

	// A refresh in progress.
	e.Front.SetOutcome("InProgress", "")
	if _, err := e.ASG.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "3"})
	refused("refresh in progress", err, "is InProgress (0% done); wait for it to end, or pass --cancel-refresh")
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "3", CancelRefresh: true}))
	if !strings.Contains(p.String(), "1. cancel instance refresh") {
		t.Fatalf("plan:\n%s", p)
	}
	e.Front.SetOutcome("Successful", "")
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	refs := e.Front.Refreshes(group)
	if len(refs) != 2 || refs[1].Status != "Cancelled" || refs[0].Status != "Successful" {
		t.Errorf("refreshes: %+v", refs)
	}
}

func asgfrontFault(action, snapshot string) asgfront.Fault {
	return asgfront.Fault{Service: "ec2", Action: action, Code: "InvalidSnapshot.NotFound", Message: "The snapshot '" + snapshot + "' does not exist.",
		Match: func(v url.Values) bool { return v.Get("SnapshotId.1") == snapshot }}
}

func TestPromoteAMixedInstancesGroup(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("mixed")
	_, err := e.ASG.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{amazontest.Region + "a"},
		MixedInstancesPolicy: &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{
			LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("1")},
			Overrides:                   []astypes.LaunchTemplateOverrides{{InstanceType: aws.String("t3.micro")}, {InstanceType: aws.String("t3.small")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2", NoRefresh: true}))
	if !p.Mixed || p.Switch != "group" || !strings.Contains(p.String(), "through its mixed instances policy") {
		t.Fatalf("plan:\n%s", p)
	}
	if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	g, err := e.Catalog.Group(ctx, group)
	if err != nil || !g.Mixed || g.VersionSpec != "2" || g.Image != rel.ami["2"] {
		t.Fatalf("after promote: %+v %v", g, err)
	}
}
