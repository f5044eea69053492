package asgfront

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

func active(status string) bool {
	switch status {
	case "Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking":
		return true
	}
	return false
}

func (f *Front) invalid(w http.ResponseWriter, format string, args ...any) {
	f.writeError(w, "autoscaling", 400, "ValidationError", fmt.Sprintf(format, args...))
}

func (f *Front) start(w http.ResponseWriter, region string, form url.Values) {
	name := form.Get("AutoScalingGroupName")
	g, err := f.group(region, name)
	if err != nil {
		f.writeError(w, "autoscaling", 500, "InternalFailure", err.Error())
		return
	}
	if g == nil {
		f.invalid(w, "AutoScalingGroup name not found - %s", name)
		return
	}
	r := &Refresh{Group: name, Status: "Pending", Started: time.Now().UTC(), Params: form, Total: len(g.Instances), ToUpdate: len(g.Instances), region: region}
	tmpl, version := r.Desired()
	if r.Preference("AutoRollback") == "true" {
		if tmpl == "" && version == "" {
			f.invalid(w, "AutoRollback requires a desired configuration.")
			return
		}
		if v := g.version(); v == "$Latest" || v == "$Default" || v == "" {
			f.invalid(w, "AutoRollback is not supported: the Auto Scaling group uses launch template version %s.", v)
			return
		}
	}
	cps := r.Checkpoints()
	for i, p := range cps {
		if p < 1 || p > 100 || (i > 0 && p <= cps[i-1]) {
			f.invalid(w, "CheckpointPercentages must be unique values from 1 to 100 in ascending order.")
			return
		}
	}
	if len(cps) == 0 && r.Preference("CheckpointDelay") != "" {
		f.invalid(w, "CheckpointDelay requires CheckpointPercentages.")
		return
	}
	alarms := r.Alarms()
	states, err := f.alarmStates(region, alarms)
	if err != nil {
		f.writeError(w, "autoscaling", 500, "InternalFailure", err.Error())
		return
	}
	for _, a := range alarms {
		if _, ok := states[a]; !ok {
			f.invalid(w, "The alarm %s does not exist.", a)
			return
		}
	}
	f.mu.Lock()
	for _, o := range f.refreshes {
		if o.Group == name && active(o.Status) {
			f.mu.Unlock()
			f.writeError(w, "autoscaling", 400, "InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
			return
		}
	}
	f.seq++
	r.ID = fmt.Sprintf("%08x-1111-4222-8333-%012x", f.seq, time.Now().UnixNano()&0xffffffffffff)
	f.refreshes = append(f.refreshes, r)
	f.mu.Unlock()
	f.writeResult(w, "StartInstanceRefresh", "<InstanceRefreshId>"+r.ID+"</InstanceRefreshId>")
}

// percentages are the refresh's steps: its checkpoints, ending at 100.
func (r *Refresh) percentages() []int {
	cps := r.Checkpoints()
	if len(cps) == 0 {
		return []int{50, 100}
	}
	if cps[len(cps)-1] != 100 {
		cps = append(cps, 100)
	}
	return cps
}

func (r *Refresh) setPercentage(p int) {
	r.Percentage = p
	r.ToUpdate = r.Total - r.Total*p/100
}

// advance moves r one step on (f.mu held).
func (f *Front) advance(r *Refresh) {
	switch r.Status {
	case "Pending":
		r.Status = "InProgress"
	case "InProgress", "Baking":
		if a := f.firing(r); a != "" {
			f.fail(r, fmt.Sprintf("The instance refresh failed because alarm %s is in the ALARM state.", a))
			return
		}
		if r.Status == "Baking" {
			f.succeed(r)
			return
		}
		if f.outcome == "InProgress" {
			r.setPercentage(50)
			return
		}
		if f.outcome == "Failed" && r.Percentage >= 50 {
			f.fail(r, f.reason)
			return
		}
		ps := r.percentages()
		if r.next >= len(ps) {
			r.next = len(ps) - 1
		}
		r.setPercentage(ps[r.next])
		r.next++
		r.steps++
		r.Reason = ""
		if r.Percentage < 100 {
			if d := r.Preference("CheckpointDelay"); d != "" && len(r.Checkpoints()) > 0 {
				r.Reason = fmt.Sprintf("Checkpoint %d%% reached: waiting %s seconds before going on.", r.Percentage, d)
			}
			return
		}
		if b, _ := strconv.Atoi(r.Preference("BakeTime")); b > 0 {
			r.Status, r.Reason = "Baking", fmt.Sprintf("Every instance is replaced: baking for %d seconds.", b)
			return
		}
		f.succeed(r)
	case "RollbackInProgress":
		r.Status, r.Ended = "RollbackSuccessful", time.Now().UTC()
		r.Reason = "The instance refresh was rolled back: " + r.RollbackReason
	case "Cancelling":
		r.Status, r.Ended, r.Reason = "Cancelled", time.Now().UTC(), "Instance refresh was cancelled."
	}
}

// firing returns the first of r's alarms that is in ALARM, or "".
func (f *Front) firing(r *Refresh) string {
	alarms := r.Alarms()
	if len(alarms) == 0 {
		return ""
	}
	states, err := f.alarmStates(r.region, alarms)
	if err != nil {
		return ""
	}
	for _, a := range alarms {
		if states[a] == "ALARM" {
			return a
		}
	}
	return ""
}

func (f *Front) fail(r *Refresh, reason string) {
	if r.Preference("AutoRollback") == "true" {
		r.Status, r.Reason = "RollbackInProgress", reason
		r.RollbackReason, r.RollbackStart = reason, time.Now().UTC()
		return
	}
	r.Status, r.Reason, r.Ended = "Failed", reason, time.Now().UTC()
}

func (f *Front) succeed(r *Refresh) {
	if err := f.applyDesired(r.region, r); err != nil {
		r.Status, r.Reason, r.Ended = "Failed", "applying the desired configuration: "+err.Error(), time.Now().UTC()
		return
	}
	r.Applied = true
	r.Status, r.Reason, r.Ended = "Successful", "", time.Now().UTC()
	r.setPercentage(100)
}

func (f *Front) describe(w http.ResponseWriter, form url.Values) {
	group := form.Get("AutoScalingGroupName")
	ids := map[string]bool{}
	for _, id := range members(form, "InstanceRefreshIds") {
		ids[id] = true
	}
	f.mu.Lock()
	var list []*Refresh
	for _, r := range f.refreshes {
		if r.Group == group && (len(ids) == 0 || ids[r.ID]) {
			f.advance(r)
			list = append(list, r)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Started.After(list[j].Started) })
	var b strings.Builder
	b.WriteString("<InstanceRefreshes>")
	for _, r := range list {
		r.writeXML(&b)
	}
	b.WriteString("</InstanceRefreshes>")
	f.mu.Unlock()
	f.writeResult(w, "DescribeInstanceRefreshes", b.String())
}

func (r *Refresh) writeXML(b *strings.Builder) {
	b.WriteString("<member>")
	fmt.Fprintf(b, "<InstanceRefreshId>%s</InstanceRefreshId><AutoScalingGroupName>%s</AutoScalingGroupName><Status>%s</Status>", r.ID, esc(r.Group), r.Status)
	if r.Reason != "" {
		fmt.Fprintf(b, "<StatusReason>%s</StatusReason>", esc(r.Reason))
	}
	fmt.Fprintf(b, "<StartTime>%s</StartTime>", r.Started.Format(time.RFC3339))
	if !r.Ended.IsZero() {
		fmt.Fprintf(b, "<EndTime>%s</EndTime>", r.Ended.Format(time.RFC3339))
	}
	fmt.Fprintf(b, "<PercentageComplete>%d</PercentageComplete><InstancesToUpdate>%d</InstancesToUpdate>", r.Percentage, r.ToUpdate)
	fmt.Fprintf(b, "<ProgressDetails><LivePoolProgress><PercentageComplete>%d</PercentageComplete><InstancesToUpdate>%d</InstancesToUpdate></LivePoolProgress></ProgressDetails>", r.Percentage, r.ToUpdate)
	b.WriteString("<Preferences>")
	for _, p := range []string{"MinHealthyPercentage", "InstanceWarmup", "SkipMatching", "AutoRollback", "CheckpointDelay", "BakeTime"} {
		if v := r.Preference(p); v != "" {
			fmt.Fprintf(b, "<%s>%s</%s>", p, esc(v), p)
		}
	}
	if cps := r.Checkpoints(); len(cps) > 0 {
		b.WriteString("<CheckpointPercentages>")
		for _, c := range cps {
			fmt.Fprintf(b, "<member>%d</member>", c)
		}
		b.WriteString("</CheckpointPercentages>")
	}
	if alarms := r.Alarms(); len(alarms) > 0 {
		b.WriteString("<AlarmSpecification><Alarms>")
		for _, a := range alarms {
			fmt.Fprintf(b, "<member>%s</member>", esc(a))
		}
		b.WriteString("</Alarms></AlarmSpecification>")
	}
	b.WriteString("</Preferences>")
	if t, v := r.Desired(); t != "" || v != "" {
		key := "LaunchTemplateId"
		if !strings.HasPrefix(t, "lt-") {
			key = "LaunchTemplateName"
		}
		fmt.Fprintf(b, "<DesiredConfiguration><LaunchTemplate><%[1]s>%[2]s</%[1]s><Version>%[3]s</Version></LaunchTemplate></DesiredConfiguration>", key, esc(t), esc(v))
	}
	if r.RollbackReason != "" {
		fmt.Fprintf(b, "<RollbackDetails><RollbackReason>%s</RollbackReason><RollbackStartTime>%s</RollbackStartTime><PercentageCompleteOnRollback>%d</PercentageCompleteOnRollback><InstancesToUpdateOnRollback>%d</InstancesToUpdateOnRollback></RollbackDetails>",
			esc(r.RollbackReason), r.RollbackStart.Format(time.RFC3339), r.Percentage, r.Total-r.ToUpdate)
	}
	b.WriteString("</member>")
}

func (f *Front) cancel(w http.ResponseWriter, form url.Values) {
	group := form.Get("AutoScalingGroupName")
	f.mu.Lock()
	for _, r := range f.refreshes {
		if r.Group == group && (r.Status == "Pending" || r.Status == "InProgress" || r.Status == "Baking") {
			r.Status = "Cancelling"
			f.mu.Unlock()
			f.writeResult(w, "CancelInstanceRefresh", "<InstanceRefreshId>"+r.ID+"</InstanceRefreshId>")
			return
		}
	}
	f.mu.Unlock()
	f.writeError(w, "autoscaling", 400, "ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group "+group)
}

// rollback starts a manual rollback of the group's active refresh.
func (f *Front) rollback(w http.ResponseWriter, form url.Values) {
	group := form.Get("AutoScalingGroupName")
	f.mu.Lock()
	for _, r := range f.refreshes {
		if r.Group == group && (r.Status == "Pending" || r.Status == "InProgress" || r.Status == "Baking") {
			if t, v := r.Desired(); t == "" && v == "" {
				f.mu.Unlock()
				f.invalid(w, "The instance refresh has no desired configuration: it cannot be rolled back.")
				return
			}
			r.Status, r.RollbackReason, r.RollbackStart = "RollbackInProgress", "Rollback requested by the user.", time.Now().UTC()
			r.Reason = r.RollbackReason
			f.mu.Unlock()
			f.writeResult(w, "RollbackInstanceRefresh", "<InstanceRefreshId>"+r.ID+"</InstanceRefreshId>")
			return
		}
	}
	f.mu.Unlock()
	f.writeError(w, "autoscaling", 400, "ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group "+group)
}
