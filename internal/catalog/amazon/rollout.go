package amazon

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// Rollout is one promotion or rollback of several groups: every group is
// planned, and passes every guard, before any is changed; then they are
// changed one after another, stopping at the first failure.
type Rollout struct {
	Action string  `json:"action"`
	Region string  `json:"region"`
	Plans  []*Plan `json:"plans"`
}

// GroupsTagged lists the groups with tag key=value, by name.
func (c *Catalog) GroupsTagged(ctx context.Context, key, value string) ([]string, error) {
	var names []string
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.ASG, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + key), Values: []string{value}}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list autoscaling groups tagged %s=%s in %s: %w", key, value, c.Region, err)
		}
		for _, g := range out.AutoScalingGroups {
			names = append(names, aws.ToString(g.AutoScalingGroupName))
		}
	}
	sort.Strings(names)
	return names, nil
}

// PlanRollout plans action ("promote" or "rollback") with o for each
// group (o.Group is ignored). The first group that cannot be planned
// fails it all: nothing is changed.
func (c *Catalog) PlanRollout(ctx context.Context, action string, groups []string, o ChangeOptions) (*Rollout, error) {
	if len(groups) == 0 {
		return nil, refuse("%s: no autoscaling group to change", action)
	}
	r := &Rollout{Action: action, Region: c.Region}
	seen := map[string]bool{}
	for _, g := range groups {
		if seen[g] {
			continue
		}
		seen[g] = true
		o.Group = g
		var p *Plan
		var err error
		if action == "rollback" {
			p, err = c.PlanRollback(ctx, o)
		} else {
			p, err = c.PlanPromote(ctx, o)
		}
		if err != nil {
			if len(groups) > 1 {
				return nil, fmt.Errorf("plan group %s of %d: %w", g, len(seen), err)
			}
			return nil, err
		}
		r.Plans = append(r.Plans, p)
	}
	return r, nil
}

// Groups names the rollout's groups in order.
func (r *Rollout) Groups() []string {
	out := make([]string, len(r.Plans))
	for i, p := range r.Plans {
		out[i] = p.Group
	}
	return out
}

// String renders the rollout as --dry-run prints it.
func (r *Rollout) String() string {
	if len(r.Plans) == 1 {
		return r.Plans[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d autoscaling groups in %s, one after another, stopping at the first failure: %s\n", r.Action, len(r.Plans), r.Region, strings.Join(r.Groups(), ", "))
	for i, p := range r.Plans {
		fmt.Fprintf(&b, "\n[%d/%d] %s", i+1, len(r.Plans), p)
	}
	return b.String()
}

// RolloutError is a rollout that stopped at a group.
type RolloutError struct {
	Done      []string // groups changed
	Failed    string   // the group that failed
	Remaining []string // groups not started
	Next      string
	Err       error // the group's error (a *PartialError)
}

func (e *RolloutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %s: %v", e.Failed, e.Err)
	fmt.Fprintf(&b, "\ngroups done: %s", listOrNone(e.Done))
	fmt.Fprintf(&b, "\ngroups not started: %s", listOrNone(e.Remaining))
	if e.Next != "" {
		fmt.Fprintf(&b, "\nto continue with the rest: %s", e.Next)
	}
	return b.String()
}

func (e *RolloutError) Unwrap() error { return e.Err }

// ExecuteRollout executes the plans one group after another (with o.Wait,
// each refresh must succeed before the next group starts) and stops at
// the first failure with a *RolloutError. A single plan's failure is its
// *PartialError.
func (c *Catalog) ExecuteRollout(ctx context.Context, r *Rollout, o ExecOptions) ([]*Result, error) {
	var results []*Result
	for i, p := range r.Plans {
		res, err := c.Execute(ctx, p, o)
		results = append(results, res)
		if err == nil {
			continue
		}
		if len(r.Plans) == 1 {
			return results, err
		}
		groups := r.Groups()
		e := &RolloutError{Done: groups[:i], Failed: p.Group, Remaining: groups[i+1:], Err: err}
		if len(e.Remaining) > 0 {
			args := ""
			for _, g := range e.Remaining {
				args += " --asg " + g
			}
			if r.Action == "promote" {
				args += " --image " + p.To.ID
			}
			e.Next = fmt.Sprintf("once %s is sorted out, `pipbake %s%s --region %s` with the same options", p.Group, r.Action, args, r.Region)
		}
		return results, e
	}
	return results, nil
}
