package amazon

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// RefreshSpec is the instance refresh a plan starts: its desired
// configuration (the launch template version, always a number) and its
// preferences.
type RefreshSpec struct {
	DesiredVersion  int64    `json:"desired_version"`
	SkipMatching    bool     `json:"skip_matching"`
	MinHealthy      int32    `json:"min_healthy_percentage"`
	Warmup          *int32   `json:"instance_warmup_seconds,omitempty"`
	Checkpoints     []int32  `json:"checkpoint_percentages,omitempty"`
	CheckpointDelay *int32   `json:"checkpoint_delay_seconds,omitempty"`
	BakeTime        *int32   `json:"bake_time_seconds,omitempty"`
	Alarms          []string `json:"alarms,omitempty"`
	AutoRollback    bool     `json:"auto_rollback"`
	// NoAutoRollback says why AutoRollback is off.
	NoAutoRollback string `json:"no_auto_rollback,omitempty"`
}

func (r *RefreshSpec) String() string {
	parts := []string{fmt.Sprintf("desired configuration: version %d", r.DesiredVersion)}
	if r.SkipMatching {
		parts = append(parts, "skip matching")
	}
	parts = append(parts, fmt.Sprintf("min healthy %d%%", r.MinHealthy))
	if r.Warmup != nil {
		parts = append(parts, fmt.Sprintf("warmup %ds", *r.Warmup))
	}
	if len(r.Checkpoints) > 0 {
		cps := make([]string, len(r.Checkpoints))
		for i, c := range r.Checkpoints {
			cps[i] = fmt.Sprintf("%d%%", c)
		}
		s := "checkpoints " + strings.Join(cps, ", ")
		if r.CheckpointDelay != nil {
			s += fmt.Sprintf(" (%ds each)", *r.CheckpointDelay)
		}
		parts = append(parts, s)
	}
	if r.BakeTime != nil {
		parts = append(parts, fmt.Sprintf("bake %ds", *r.BakeTime))
	}
	if len(r.Alarms) > 0 {
		parts = append(parts, "alarms "+strings.Join(r.Alarms, ", "))
	}
	if r.AutoRollback {
		parts = append(parts, "auto rollback")
	} else {
		parts = append(parts, "no auto rollback")
	}
	return strings.Join(parts, ", ")
}

// Longest CheckpointDelay and BakeTime AWS takes: two days.
const maxRefreshWait = 172800

// refreshSpec checks the refresh options and makes the spec for a refresh
// to version of a group that names its version as spec ("$Default",
// "$Latest" or a number). Bad options are plain errors (usage), not
// refusals.
func refreshSpec(o ChangeOptions, versionSpec string, version int64) (*RefreshSpec, error) {
	minHealthy := o.MinHealthy
	if minHealthy == 0 {
		minHealthy = 90
	}
	if minHealthy < 0 || minHealthy > 100 {
		return nil, fmt.Errorf("--min-healthy %d is not a percentage", minHealthy)
	}
	if o.Warmup != nil && *o.Warmup < 0 {
		return nil, fmt.Errorf("--warmup %d: seconds cannot be negative", *o.Warmup)
	}
	for i, c := range o.Checkpoints {
		if c < 1 || c > 100 || (i > 0 && c <= o.Checkpoints[i-1]) {
			return nil, fmt.Errorf("--checkpoints %s: percentages from 1 to 100, each greater than the one before", joinInts(o.Checkpoints))
		}
	}
	if n := len(o.Checkpoints); n > 0 && o.Checkpoints[n-1] != 100 {
		return nil, fmt.Errorf("--checkpoints %s: the last must be 100, or the refresh stops before replacing every instance", joinInts(o.Checkpoints))
	}
	if o.CheckpointDelay != nil {
		if len(o.Checkpoints) == 0 {
			return nil, fmt.Errorf("--checkpoint-delay needs --checkpoints")
		}
		if *o.CheckpointDelay < 0 || *o.CheckpointDelay > maxRefreshWait {
			return nil, fmt.Errorf("--checkpoint-delay %d: from 0 to %d seconds", *o.CheckpointDelay, maxRefreshWait)
		}
	}
	if o.BakeTime != nil && (*o.BakeTime < 0 || *o.BakeTime > maxRefreshWait) {
		return nil, fmt.Errorf("--bake-time %d: from 0 to %d seconds", *o.BakeTime, maxRefreshWait)
	}
	seen := map[string]bool{}
	for _, a := range o.Alarms {
		if a == "" || seen[a] {
			return nil, fmt.Errorf("--alarm %q: empty or given twice", a)
		}
		seen[a] = true
	}
	r := &RefreshSpec{
		DesiredVersion: version, SkipMatching: true, MinHealthy: minHealthy, Warmup: o.Warmup,
		Checkpoints: o.Checkpoints, CheckpointDelay: o.CheckpointDelay, BakeTime: o.BakeTime, Alarms: o.Alarms,
	}
	switch {
	case o.NoAutoRollback:
		r.NoAutoRollback = "--no-auto-rollback"
	case versionSpec == "$Default" || versionSpec == "$Latest":
		r.NoAutoRollback = fmt.Sprintf("the group uses %s of its launch template, and AWS rolls back only groups that name a version number; "+
			"when this refresh succeeds the group names version %d, so later refreshes can roll back", versionSpec, version)
	default:
		r.AutoRollback = true
	}
	return r, nil
}

func joinInts(v []int32) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// checkAlarms refuses alarms that do not exist, and alarms in ALARM now
// (the refresh would fail at once).
func (c *Catalog) checkAlarms(ctx context.Context, what string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	found := map[string]string{}
	reasons := map[string]string{}
	p := cloudwatch.NewDescribeAlarmsPaginator(c.CW, &cloudwatch.DescribeAlarmsInput{
		AlarmNames: names, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("%s: describe CloudWatch alarms %s in %s: %w", what, strings.Join(names, ", "), c.Region, err)
		}
		for _, a := range out.MetricAlarms {
			found[deref(a.AlarmName)], reasons[deref(a.AlarmName)] = string(a.StateValue), deref(a.StateReason)
		}
		for _, a := range out.CompositeAlarms {
			found[deref(a.AlarmName)], reasons[deref(a.AlarmName)] = string(a.StateValue), deref(a.StateReason)
		}
	}
	for _, n := range names {
		state, ok := found[n]
		switch {
		case !ok:
			return refuse("%s: CloudWatch alarm %q does not exist in %s; --alarm names an alarm that fails the refresh when it goes to ALARM", what, n, c.Region)
		case state == string(cwtypes.StateValueAlarm):
			return refuse("%s: CloudWatch alarm %s is in ALARM now (%s): the refresh would fail at once; wait for it to clear, or leave it out", what, n, reasons[n])
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
