package amazon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Refresh is an instance refresh's state.
type Refresh struct {
	ID         string    `json:"id"`
	Group      string    `json:"group"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Percentage int32     `json:"percentage"`
	ToUpdate   int32     `json:"instances_to_update"`
	Started    time.Time `json:"started,omitzero"`
	// Total is the most instances it had to update (WaitRefresh): with
	// ToUpdate, how many it replaced.
	Total int32 `json:"instances_total,omitempty"`
	// RollbackReason is set when the refresh rolled back.
	RollbackReason string `json:"rollback_reason,omitempty"`
}

func (r *Refresh) String() string {
	s := fmt.Sprintf("instance refresh %s of %s: %s, %d%% done", r.ID, r.Group, r.Status, r.Percentage)
	if r.Total > 0 {
		s += fmt.Sprintf(", %d of %d instances replaced", r.Total-r.ToUpdate, r.Total)
	} else {
		s += fmt.Sprintf(", %d instances to update", r.ToUpdate)
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// RolledBack reports whether the refresh ended rolled back.
func (r *Refresh) RolledBack() bool {
	return r.Status == string(astypes.InstanceRefreshStatusRollbackSuccessful)
}

// Active reports whether the refresh has not ended.
func (r *Refresh) Active() bool {
	switch astypes.InstanceRefreshStatus(r.Status) {
	case astypes.InstanceRefreshStatusPending, astypes.InstanceRefreshStatusInProgress, astypes.InstanceRefreshStatusCancelling,
		astypes.InstanceRefreshStatusRollbackInProgress, astypes.InstanceRefreshStatusBaking:
		return true
	}
	return false
}

func refreshFrom(r astypes.InstanceRefresh) *Refresh {
	out := &Refresh{
		ID: aws.ToString(r.InstanceRefreshId), Group: aws.ToString(r.AutoScalingGroupName), Status: string(r.Status),
		Reason: aws.ToString(r.StatusReason), Percentage: aws.ToInt32(r.PercentageComplete), ToUpdate: aws.ToInt32(r.InstancesToUpdate),
		Started: aws.ToTime(r.StartTime),
	}
	if d := r.RollbackDetails; d != nil {
		out.RollbackReason = aws.ToString(d.RollbackReason)
	}
	return out
}

// Refreshes lists a group's instance refreshes, newest first.
func (c *Catalog) Refreshes(ctx context.Context, group string) ([]*Refresh, error) {
	var out []*Refresh
	p := autoscaling.NewDescribeInstanceRefreshesPaginator(c.ASG, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(group)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, refreshCall)
		if err != nil {
			return nil, refreshError("describe instance refreshes of "+group, err)
		}
		for _, r := range page.InstanceRefreshes {
			out = append(out, refreshFrom(r))
		}
	}
	return out, nil
}

func (c *Catalog) activeRefresh(ctx context.Context, group string) (*Refresh, error) {
	list, err := c.Refreshes(ctx, group)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r.Active() {
			return r, nil
		}
	}
	return nil, nil
}

func (c *Catalog) refresh(ctx context.Context, group, id string) (*Refresh, error) {
	out, err := c.ASG.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{id},
	}, refreshCall)
	if err != nil {
		return nil, refreshError(fmt.Sprintf("describe instance refresh %s of %s", id, group), err)
	}
	if len(out.InstanceRefreshes) == 0 {
		return nil, fmt.Errorf("instance refresh %s of %s not found", id, group)
	}
	return refreshFrom(out.InstanceRefreshes[0]), nil
}

// RefreshError is a refresh that ended otherwise than Successful.
type RefreshError struct{ Refresh *Refresh }

func (e *RefreshError) Error() string {
	r := e.Refresh
	switch astypes.InstanceRefreshStatus(r.Status) {
	case astypes.InstanceRefreshStatusRollbackSuccessful:
		return fmt.Sprintf("instance refresh %s of %s failed and AWS rolled it back%s", r.ID, r.Group, reasonSuffix(firstNonEmpty(r.RollbackReason, r.Reason)))
	case astypes.InstanceRefreshStatusRollbackFailed:
		return fmt.Sprintf("instance refresh %s of %s failed, and so did its rollback%s", r.ID, r.Group, reasonSuffix(firstNonEmpty(r.Reason, r.RollbackReason)))
	}
	return fmt.Sprintf("instance refresh %s of %s ended %s%s", r.ID, r.Group, r.Status, reasonSuffix(r.Reason))
}

// WaitRefresh polls a refresh until it ends, reporting each change of
// status, progress (percent, instances replaced) or reason; it fails with
// a *RefreshError unless the refresh ends Successful.
func (c *Catalog) WaitRefresh(ctx context.Context, group, id string, progress func(string)) (*Refresh, error) {
	last := ""
	var total int32
	for {
		r, err := c.refresh(ctx, group, id)
		if err != nil {
			return nil, err
		}
		total = max(total, r.ToUpdate)
		r.Total = total
		if line := r.String(); line != last && progress != nil {
			progress(line)
			last = line
		}
		if !r.Active() {
			if r.Status != string(astypes.InstanceRefreshStatusSuccessful) {
				return r, &RefreshError{Refresh: r}
			}
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("wait for instance refresh %s of %s: %w (it goes on)", id, group, ctx.Err())
		case <-time.After(c.poll()):
		}
	}
}

func reasonSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// startRefresh starts the plan's refresh, its desired configuration
// pinned to the plan's version.
func (c *Catalog) startRefresh(ctx context.Context, p *Plan) (string, error) {
	spec := p.Refresh
	version := aws.String(strconv.FormatInt(spec.DesiredVersion, 10))
	desired := &astypes.DesiredConfiguration{}
	if p.Mixed && p.mixed != nil {
		m := *p.mixed
		lt := *m.LaunchTemplate
		lt.LaunchTemplateSpecification = &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(p.TemplateID), Version: version}
		m.LaunchTemplate = &lt
		desired.MixedInstancesPolicy = &m
	} else {
		desired.LaunchTemplate = &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(p.TemplateID), Version: version}
	}
	prefs := &astypes.RefreshPreferences{
		SkipMatching:          aws.Bool(spec.SkipMatching),
		MinHealthyPercentage:  aws.Int32(spec.MinHealthy),
		InstanceWarmup:        spec.Warmup,
		AutoRollback:          aws.Bool(spec.AutoRollback),
		CheckpointPercentages: spec.Checkpoints,
		CheckpointDelay:       spec.CheckpointDelay,
		BakeTime:              spec.BakeTime,
	}
	if len(spec.Alarms) > 0 {
		prefs.AlarmSpecification = &astypes.AlarmSpecification{Alarms: spec.Alarms}
	}
	out, err := c.ASG.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String(p.Group),
		Strategy:             astypes.RefreshStrategyRolling,
		DesiredConfiguration: desired,
		Preferences:          prefs,
	}, refreshCall)
	if err != nil {
		return "", refreshError("start instance refresh of "+p.Group, err)
	}
	return aws.ToString(out.InstanceRefreshId), nil
}

func (c *Catalog) cancelRefresh(ctx context.Context, group, id string, progress func(string)) error {
	if _, err := c.ASG.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String(group)}, refreshCall); err != nil {
		return refreshError(fmt.Sprintf("cancel instance refresh %s of %s", id, group), err)
	}
	for {
		r, err := c.refresh(ctx, group, id)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(r.String())
		}
		if !r.Active() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for instance refresh %s of %s to stop: %w", id, group, ctx.Err())
		case <-time.After(c.poll()):
		}
	}
}

// ErrNoInstanceRefresh means the Auto Scaling endpoint does not implement
// instance refresh: it answered an instance-refresh action with an error
// that is no AWS error (moto_server answers them with a bare HTTP 500
// page) or with NotImplemented.
var ErrNoInstanceRefresh = errors.New("the Auto Scaling endpoint does not implement instance refresh (moto does not, for one): promoting or rolling back a group needs one that does, such as AWS")

// refreshCall makes an instance-refresh call give up at once on an answer
// that is no AWS error: an endpoint without instance refresh says the same
// every time (the standard retryer would retry a 500 until its attempts
// ran out).
func refreshCall(o *autoscaling.Options) {
	if o.Retryer != nil {
		o.Retryer = unreadableIsFinal{o.Retryer}
	}
}

type unreadableIsFinal struct{ aws.Retryer }

func (r unreadableIsFinal) IsErrorRetryable(err error) bool {
	return !noInstanceRefresh(err) && r.Retryer.IsErrorRetryable(err)
}

// noInstanceRefresh tells the endpoint's "not implemented" apart.
func noInstanceRefresh(err error) bool {
	var de *smithy.DeserializationError
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	switch {
	case errors.As(err, &ae):
		switch ae.ErrorCode() {
		case "NotImplemented", "InvalidAction", "UnknownOperation":
			return true
		}
		return false
	case errors.As(err, &de) && errors.As(err, &re):
		return re.HTTPStatusCode() >= 500
	}
	return false
}

// refreshError says what failed; for an endpoint without instance refresh
// it is one plain line (ErrNoInstanceRefresh and the HTTP status) instead
// of the SDK's deserialization error.
func refreshError(what string, err error) error {
	if !noInstanceRefresh(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	status := ""
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = fmt.Sprintf(" (it answered HTTP %d)", re.HTTPStatusCode())
	}
	return fmt.Errorf("%s: %w%s", what, ErrNoInstanceRefresh, status)
}
