package asgfront

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// motoCall sends a query-protocol request to moto, signed with a
// credential scope moto accepts (it routes by the scope's service).
func (f *Front) motoCall(region, service string, v url.Values) ([]byte, error) {
	req, _ := http.NewRequest(http.MethodPost, f.upstream.String()+"/", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=asgfront/20240101/"+region+"/"+service+"/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("moto %s: %s: %s", v.Get("Action"), resp.Status, b)
	}
	return b, nil
}

type templateSpec struct {
	ID      string `xml:"LaunchTemplateId"`
	Name    string `xml:"LaunchTemplateName"`
	Version string `xml:"Version"`
}

// motoGroup is what the front needs of a group.
type motoGroup struct {
	Name           string        `xml:"AutoScalingGroupName"`
	LaunchTemplate *templateSpec `xml:"LaunchTemplate"`
	Mixed          *templateSpec `xml:"MixedInstancesPolicy>LaunchTemplate>LaunchTemplateSpecification"`
	Instances      []struct {
		ID string `xml:"InstanceId"`
	} `xml:"Instances>member"`
}

// version is how the group names its launch template version ("" for a
// launch configuration).
func (g *motoGroup) version() string {
	spec := g.LaunchTemplate
	if spec == nil {
		spec = g.Mixed
	}
	if spec == nil {
		return ""
	}
	if spec.Version == "" {
		return "$Default"
	}
	return spec.Version
}

// group reads a group from moto; nil when there is none.
func (f *Front) group(region, name string) (*motoGroup, error) {
	b, err := f.motoCall(region, "autoscaling", url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}, "AutoScalingGroupNames.member.1": {name}})
	if err != nil {
		return nil, err
	}
	var out struct {
		Groups []motoGroup `xml:"DescribeAutoScalingGroupsResult>AutoScalingGroups>member"`
	}
	if err := xml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("moto DescribeAutoScalingGroups: %w", err)
	}
	for i := range out.Groups {
		if out.Groups[i].Name == name {
			return &out.Groups[i], nil
		}
	}
	return nil, nil
}

// alarmStates reads the state of each named alarm (metric or composite)
// from moto's CloudWatch; an alarm that does not exist is left out.
func (f *Front) alarmStates(region string, names []string) (map[string]string, error) {
	states := map[string]string{}
	if len(names) == 0 {
		return states, nil
	}
	v := url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}}
	for i, n := range names {
		v.Set(fmt.Sprintf("AlarmNames.member.%d", i+1), n)
	}
	b, err := f.motoCall(region, "monitoring", v)
	if err != nil {
		return nil, err
	}
	type alarm struct {
		Name   string `xml:"AlarmName"`
		State  string `xml:"StateValue"`
		Reason string `xml:"StateReason"`
	}
	var out struct {
		Metric    []alarm `xml:"DescribeAlarmsResult>MetricAlarms>member"`
		Composite []alarm `xml:"DescribeAlarmsResult>CompositeAlarms>member"`
	}
	if err := xml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("moto DescribeAlarms: %w", err)
	}
	for _, a := range append(out.Metric, out.Composite...) {
		states[a.Name] = a.State
	}
	return states, nil
}

// applyDesired sets moto's group to the refresh's desired configuration,
// as Auto Scaling does when a refresh with one succeeds.
func (f *Front) applyDesired(region string, r *Refresh) error {
	v := url.Values{"Action": {"UpdateAutoScalingGroup"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {r.Group}}
	n := 0
	for k, vals := range r.Params {
		if rest, ok := strings.CutPrefix(k, "DesiredConfiguration."); ok && len(vals) > 0 {
			v.Set(rest, vals[0])
			n++
		}
	}
	if n == 0 {
		return nil
	}
	_, err := f.motoCall(region, "autoscaling", v)
	return err
}

// members returns a query list's values (prefix.member.1, .2, ...) in
// order.
func members(v url.Values, prefix string) []string {
	type kv struct {
		i int
		s string
	}
	var list []kv
	for k, vals := range v {
		rest, ok := strings.CutPrefix(k, prefix+".member.")
		if !ok || len(vals) == 0 {
			continue
		}
		if i, err := strconv.Atoi(rest); err == nil {
			list = append(list, kv{i, vals[0]})
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].i < list[b].i })
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.s
	}
	return out
}

func ints(ss []string) []int {
	var out []int
	for _, s := range ss {
		if n, err := strconv.Atoi(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}
