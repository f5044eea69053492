// Package asgfront is TEST-ONLY: a loopback HTTP front for moto_server that
// answers the three Auto Scaling instance-refresh actions moto 5.2.1 does
// not implement (StartInstanceRefresh, DescribeInstanceRefreshes and
// CancelInstanceRefresh answer 500 NotImplemented there) with real Auto
// Scaling query-protocol responses, and passes every other request, of any
// service, through to moto unchanged.
//
// It also injects faults the way AWS reports them (Throttling, or any error
// code for any action, in the query or EC2 error format), so tests can prove
// retries and partial failures against the real SDK clients. Nothing in
// pipbake's non-test code imports it.
//
// A refresh moves one step each time DescribeInstanceRefreshes is called:
// Pending, InProgress (50%), then Outcome (Successful by default; Failed;
// or stays InProgress while Outcome is InProgress). CancelInstanceRefresh
// makes the active one Cancelling, then Cancelled. Refreshes do not replace
// moto's instances.
package asgfront

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Refresh is one instance refresh the front knows.
type Refresh struct {
	ID         string
	Group      string
	Status     string
	Reason     string
	Started    time.Time
	Ended      time.Time
	Percentage int
	// Params are the StartInstanceRefresh request's parameters.
	Params url.Values
	steps  int
}

// Fault makes matching requests fail.
type Fault struct {
	// Service is the signing name ("autoscaling", "ec2"); empty matches any.
	Service string
	Action  string
	// Match, when set, must also accept the request's parameters.
	Match func(url.Values) bool
	// Times is how many requests fail; <= 0 means every one.
	Times   int
	Status  int // default 400
	Code    string
	Message string
	hits    int
}

// Front is a running front.
type Front struct {
	// URL is http://127.0.0.1:PORT, to use as the SDK clients' base
	// endpoint (for every service: what the front does not answer goes to
	// moto).
	URL string

	upstream *url.URL
	srv      *http.Server
	proxy    *httputil.ReverseProxy

	mu        sync.Mutex
	outcome   string
	reason    string
	refreshes []*Refresh
	faults    []*Fault
	rewrites  map[string]func([]byte) []byte
	calls     map[string]int
	seq       int
}

// Start runs a front for upstream (moto's endpoint) until the test ends.
func Start(tb testing.TB, upstream string) *Front {
	tb.Helper()
	f, err := New(upstream)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.Close)
	return f
}

// New runs a front for upstream; Close stops it.
func New(upstream string) (*Front, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("asgfront: upstream: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("asgfront: %w", err)
	}
	f := &Front{URL: "http://" + l.Addr().String(), upstream: u, outcome: "Successful", calls: map[string]int{}}
	f.proxy = httputil.NewSingleHostReverseProxy(u)
	f.srv = &http.Server{Handler: f}
	go f.srv.Serve(l)
	return f, nil
}

// Close stops the front.
func (f *Front) Close() { f.srv.Close() }

// SetOutcome sets how refreshes end from now on: "Successful", "Failed"
// (with reason as StatusReason), or "InProgress" (they never end).
func (f *Front) SetOutcome(status, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome, f.reason = status, reason
	for _, r := range f.refreshes {
		if active(r.Status) && r.Status != "Cancelling" {
			r.steps = 0
		}
	}
}

// Inject adds a fault.
func (f *Front) Inject(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft.Status == 0 {
		ft.Status = 400
	}
	f.faults = append(f.faults, &ft)
}

// Rewrite passes action's requests to moto and edits moto's answer with
// fn before the client sees it (to show states moto never reaches, such as
// an image that is still pending).
func (f *Front) Rewrite(action string, fn func(body []byte) []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rewrites == nil {
		f.rewrites = map[string]func([]byte) []byte{}
	}
	f.rewrites[action] = fn
}

// Throttle makes the next n requests of action (any service) fail with
// AWS's Throttling error.
func (f *Front) Throttle(action string, n int) {
	f.Inject(Fault{Action: action, Times: n, Code: "Throttling", Message: "Rate exceeded"})
}

// Calls counts the requests of action the front received (faulted ones
// included).
func (f *Front) Calls(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

// Refreshes returns copies of the group's refreshes, newest first.
func (f *Front) Refreshes(group string) []Refresh {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Refresh
	for i := len(f.refreshes) - 1; i >= 0; i-- {
		if r := f.refreshes[i]; r.Group == group {
			out = append(out, *r)
		}
	}
	return out
}

var credentialRe = regexp.MustCompile(`Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request`)

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	service, region := "", "us-east-1"
	if m := credentialRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region, service = m[1], m[2]
	}
	var form url.Values
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, _ = url.ParseQuery(string(body))
	}
	action := form.Get("Action")
	if target := r.Header.Get("X-Amz-Target"); action == "" && target != "" {
		// JSON-protocol services (ECR, ...): Service_Version.Action.
		action = target[strings.LastIndex(target, ".")+1:]
	}

	f.mu.Lock()
	if action != "" {
		f.calls[action]++
	}
	var fault *Fault
	for _, ft := range f.faults {
		if (ft.Service == "" || ft.Service == service) && ft.Action == action && (ft.Match == nil || ft.Match(form)) && (ft.Times <= 0 || ft.hits < ft.Times) {
			ft.hits++
			fault = ft
			break
		}
	}
	rewrite := f.rewrites[action]
	f.mu.Unlock()
	if fault != nil {
		f.writeError(w, service, fault.Status, fault.Code, fault.Message)
		return
	}
	if service == "autoscaling" {
		switch action {
		case "StartInstanceRefresh":
			f.start(w, region, form)
			return
		case "DescribeInstanceRefreshes":
			f.describe(w, form)
			return
		case "CancelInstanceRefresh":
			f.cancel(w, form)
			return
		}
	}
	if rewrite != nil {
		f.passRewritten(w, r, body, rewrite)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	f.proxy.ServeHTTP(w, r)
}

func (f *Front) passRewritten(w http.ResponseWriter, r *http.Request, body []byte, fn func([]byte) []byte) {
	req, _ := http.NewRequest(r.Method, f.upstream.String()+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	out = fn(out)
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

func (f *Front) requestID() string {
	f.seq++
	return fmt.Sprintf("asgfront-%08d-0000-4000-8000-000000000000", f.seq)
}

func (f *Front) writeError(w http.ResponseWriter, service string, status int, code, msg string) {
	f.mu.Lock()
	id := f.requestID()
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	var b bytes.Buffer
	if service == "ec2" {
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`, esc(code), esc(msg), id)
	} else {
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		fmt.Fprintf(&b, `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, typ, esc(code), esc(msg), id)
	}
	w.Write(b.Bytes())
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (f *Front) writeResult(w http.ResponseWriter, action, inner string) {
	f.mu.Lock()
	id := f.requestID()
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%[1]sResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><%[1]sResult>%[2]s</%[1]sResult><ResponseMetadata><RequestId>%[3]s</RequestId></ResponseMetadata></%[1]sResponse>`, action, inner, id)
}

func active(status string) bool {
	switch status {
	case "Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking":
		return true
	}
	return false
}

// groupExists asks moto, with an unsigned-but-scoped query request as moto
// accepts.
func (f *Front) groupExists(region, name string) (bool, error) {
	v := url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}, "AutoScalingGroupNames.member.1": {name}}
	req, _ := http.NewRequest(http.MethodPost, f.upstream.String()+"/", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=asgfront/20240101/"+region+"/autoscaling/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("moto DescribeAutoScalingGroups: %s: %s", resp.Status, b)
	}
	return bytes.Contains(b, []byte("<AutoScalingGroupName>"+esc(name)+"</AutoScalingGroupName>")), nil
}

func (f *Front) start(w http.ResponseWriter, region string, form url.Values) {
	group := form.Get("AutoScalingGroupName")
	ok, err := f.groupExists(region, group)
	if err != nil {
		f.writeError(w, "autoscaling", 500, "InternalFailure", err.Error())
		return
	}
	if !ok {
		f.writeError(w, "autoscaling", 400, "ValidationError", fmt.Sprintf("AutoScalingGroup name not found - %s", group))
		return
	}
	f.mu.Lock()
	for _, r := range f.refreshes {
		if r.Group == group && active(r.Status) {
			f.mu.Unlock()
			f.writeError(w, "autoscaling", 400, "InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
			return
		}
	}
	f.seq++
	r := &Refresh{ID: fmt.Sprintf("%08x-1111-4222-8333-%012x", f.seq, time.Now().UnixNano()&0xffffffffffff), Group: group, Status: "Pending", Started: time.Now().UTC(), Params: form}
	f.refreshes = append(f.refreshes, r)
	f.mu.Unlock()
	f.writeResult(w, "StartInstanceRefresh", "<InstanceRefreshId>"+r.ID+"</InstanceRefreshId>")
}

// advance moves r one step on.
func (f *Front) advance(r *Refresh) {
	switch r.Status {
	case "Pending":
		r.Status = "InProgress"
	case "InProgress":
		r.Percentage = 50
		r.steps++
		if r.steps < 2 || f.outcome == "InProgress" {
			return
		}
		r.Status, r.Ended = f.outcome, time.Now().UTC()
		if f.outcome == "Successful" {
			r.Percentage = 100
		} else {
			r.Reason = f.reason
		}
	case "Cancelling":
		r.Status, r.Ended, r.Reason = "Cancelled", time.Now().UTC(), "Instance refresh was cancelled."
	}
}

func (f *Front) describe(w http.ResponseWriter, form url.Values) {
	group := form.Get("AutoScalingGroupName")
	ids := map[string]bool{}
	for k, v := range form {
		if strings.HasPrefix(k, "InstanceRefreshIds.member.") && len(v) > 0 {
			ids[v[0]] = true
		}
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
		b.WriteString("<member>")
		fmt.Fprintf(&b, "<InstanceRefreshId>%s</InstanceRefreshId><AutoScalingGroupName>%s</AutoScalingGroupName><Status>%s</Status>", r.ID, esc(r.Group), r.Status)
		if r.Reason != "" {
			fmt.Fprintf(&b, "<StatusReason>%s</StatusReason>", esc(r.Reason))
		}
		fmt.Fprintf(&b, "<StartTime>%s</StartTime>", r.Started.Format(time.RFC3339))
		if !r.Ended.IsZero() {
			fmt.Fprintf(&b, "<EndTime>%s</EndTime>", r.Ended.Format(time.RFC3339))
		}
		toUpdate := 2 - r.Percentage/50
		fmt.Fprintf(&b, "<PercentageComplete>%d</PercentageComplete><InstancesToUpdate>%d</InstancesToUpdate>", r.Percentage, toUpdate)
		b.WriteString("<Preferences>")
		for _, p := range []string{"MinHealthyPercentage", "InstanceWarmup", "SkipMatching"} {
			if v := r.Params.Get("Preferences." + p); v != "" {
				fmt.Fprintf(&b, "<%s>%s</%s>", p, esc(v), p)
			}
		}
		b.WriteString("</Preferences></member>")
	}
	b.WriteString("</InstanceRefreshes>")
	f.mu.Unlock()
	f.writeResult(w, "DescribeInstanceRefreshes", b.String())
}

func (f *Front) cancel(w http.ResponseWriter, form url.Values) {
	group := form.Get("AutoScalingGroupName")
	f.mu.Lock()
	for _, r := range f.refreshes {
		if r.Group == group && (r.Status == "Pending" || r.Status == "InProgress") {
			r.Status = "Cancelling"
			f.mu.Unlock()
			f.writeResult(w, "CancelInstanceRefresh", "<InstanceRefreshId>"+r.ID+"</InstanceRefreshId>")
			return
		}
	}
	f.mu.Unlock()
	f.writeError(w, "autoscaling", 400, "ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group "+group)
}
