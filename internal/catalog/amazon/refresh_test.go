package amazon_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
)

// alarm makes a CloudWatch alarm (in moto) and returns its name.
func alarm(t *testing.T, e *amazontest.Env) string {
	t.Helper()
	name := amazontest.Unique("5xx")
	_, err := e.Catalog.CW.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, Threshold: aws.Float64(10),
		EvaluationPeriods: aws.Int32(1), Period: aws.Int32(60), Statistic: cwtypes.StatisticSum,
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func setAlarm(t *testing.T, e *amazontest.Env, name string, state cwtypes.StateValue) {
	t.Helper()
	if _, err := e.Catalog.CW.SetAlarmState(context.Background(), &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: state, StateReason: aws.String("Threshold Crossed: 1 datapoint [42.0] was greater than the threshold (10.0)."),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshUsesAWSPreferences: the refresh AWS receives is pinned to the
// numbered version and carries every preference; AutoRollback is on for a
// group that names a version.
func TestRefreshUsesAWSPreferences(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "1", 2)
	a, b := alarm(t, e), alarm(t, e)
	warmup, delay, bake := int32(60), int32(300), int32(900)
	o := amazon.ChangeOptions{Group: group, Release: "2", MinHealthy: 80, Warmup: &warmup,
		Checkpoints: []int32{20, 50, 100}, CheckpointDelay: &delay, BakeTime: &bake, Alarms: []string{a, b}}
	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, o))
	want := "2. start an instance refresh of " + group + " (desired configuration: version 2, skip matching, min healthy 80%, warmup 60s, checkpoints 20%, 50%, 100% (300s each), bake 900s, alarms " + a + ", " + b + ", auto rollback)"
	if !strings.Contains(p.String(), want) || strings.Contains(p.String(), "no auto rollback") {
		t.Fatalf("plan lacks %q:\n%s", want, p)
	}
	var lines []string
	res, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true, Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Front.Refreshes(group)[0]
	if tmpl, v := r.Desired(); tmpl != lt || v != "2" {
		t.Errorf("desired configuration %s version %q, want %s version 2", tmpl, v, lt)
	}
	for k, v := range map[string]string{"SkipMatching": "true", "MinHealthyPercentage": "80", "InstanceWarmup": "60", "CheckpointDelay": "300", "BakeTime": "900", "AutoRollback": "true"} {
		if got := r.Preference(k); got != v {
			t.Errorf("preference %s = %q, want %q", k, got, v)
		}
	}
	if !slices.Equal(r.Checkpoints(), []int{20, 50, 100}) || !slices.Equal(r.Alarms(), []string{a, b}) {
		t.Errorf("checkpoints %v, alarms %v", r.Checkpoints(), r.Alarms())
	}
	log := strings.Join(lines, "\n")
	for _, want := range []string{
		"InProgress, 20% done, 0 of 2 instances replaced: Checkpoint 20% reached: waiting 300 seconds",
		"InProgress, 50% done, 1 of 2 instances replaced",
		"Baking, 100% done, 2 of 2 instances replaced: Every instance is replaced: baking for 900 seconds.",
		"Successful, 100% done, 2 of 2 instances replaced",
		"succeeded: the group launches version 2",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("progress lacks %q:\n%s", want, log)
		}
	}
	if res.Version != 2 || res.Refresh.Status != "Successful" {
		t.Errorf("result: %+v", res)
	}
	if v, im := e.GroupImage(t, group); v != 2 || im != rel.ami["2"] {
		t.Errorf("the refresh did not move the group: version %d %s", v, im)
	}

	// --no-auto-rollback, and bad preferences (usage errors, not refusals).
	o = amazon.ChangeOptions{Group: group, Release: "1", NoAutoRollback: true}
	if p := mustPlan(t)(e.Catalog.PlanPromote(ctx, o)); p.Refresh.AutoRollback || !strings.Contains(p.String(), "no auto rollback: --no-auto-rollback") {
		t.Errorf("--no-auto-rollback:\n%s", p)
	}
	for _, tc := range []struct {
		o    amazon.ChangeOptions
		want string
	}{
		{amazon.ChangeOptions{Checkpoints: []int32{50, 20, 100}}, "each greater than the one before"},
		{amazon.ChangeOptions{Checkpoints: []int32{20, 50}}, "the last must be 100"},
		{amazon.ChangeOptions{CheckpointDelay: &delay}, "--checkpoint-delay needs --checkpoints"},
		{amazon.ChangeOptions{MinHealthy: 101}, "not a percentage"},
		{amazon.ChangeOptions{Alarms: []string{a, a}}, "given twice"},
	} {
		tc.o.Group, tc.o.Release = group, "1"
		_, err := e.Catalog.PlanPromote(ctx, tc.o)
		if err == nil || amazon.IsRefusal(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.o, err, tc.want)
		}
	}
}

// TestAlarmFailsTheRefreshAndAWSRollsBack: an alarm goes to ALARM during
// the refresh; AWS fails it and rolls back, the group still launches
// what it did, --wait fails with the reason, and the group's tags do not
// claim the new release.
func TestAlarmFailsTheRefreshAndAWSRollsBack(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "1", 2)
	a := alarm(t, e)

	// Alarms are checked before anything changes.
	_, err := e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2", Alarms: []string{"no-such-alarm"}})
	if !amazon.IsRefusal(err) || !strings.Contains(err.Error(), `CloudWatch alarm "no-such-alarm" does not exist in us-east-1`) {
		t.Errorf("unknown alarm: %v", err)
	}
	setAlarm(t, e, a, cwtypes.StateValueAlarm)
	_, err = e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2", Alarms: []string{a}})
	if !amazon.IsRefusal(err) || !strings.Contains(err.Error(), "CloudWatch alarm "+a+" is in ALARM now (Threshold Crossed") {
		t.Errorf("alarm in ALARM: %v", err)
	}
	setAlarm(t, e, a, cwtypes.StateValueOk)

	p := mustPlan(t)(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2", Alarms: []string{a}, Checkpoints: []int32{50, 100}}))
	var lines []string
	progress := func(s string) {
		lines = append(lines, s)
		if strings.Contains(s, "InProgress, 50% done") {
			setAlarm(t, e, a, cwtypes.StateValueAlarm) // the new release misbehaves
		}
	}
	res, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true, Progress: progress})
	var re *amazon.RefreshError
	if !errors.As(err, &re) || !re.Refresh.RolledBack() {
		t.Fatalf("want a rolled back refresh, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"failed and AWS rolled it back: The instance refresh failed because alarm " + a + " is in the ALARM state.",
		"now: AWS rolled the refresh back: the group " + group + " launches version 1 (" + rel.ami["1"] + ") as before; version 2 (" + rel.ami["2"] + ") stays in the template, unused",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if log := strings.Join(lines, "\n"); !strings.Contains(log, "RollbackInProgress") || !strings.Contains(log, "RollbackSuccessful") {
		t.Errorf("progress:\n%s", log)
	}
	if res.Version != 1 || res.Refresh.Status != "RollbackSuccessful" {
		t.Errorf("result: %+v", res)
	}
	if v, im := e.GroupImage(t, group); v != 1 || im != rel.ami["1"] {
		t.Errorf("the group moved: version %d %s", v, im)
	}
	if tags := groupTags(t, e, group); tags["pipbake:image"] == rel.ami["2"] {
		t.Errorf("the group's tags claim the release AWS rolled back: %v", tags)
	}
	// The history did not change: rollback has nothing to go back to.
	if _, err := e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}); !amazon.IsRefusal(err) {
		t.Errorf("rollback after a rolled back refresh: %v", err)
	}
}
