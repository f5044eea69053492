// Package asgfront is TEST-ONLY: a loopback HTTP front for moto_server that
// answers the Auto Scaling instance-refresh actions moto 5.2.1 does not
// implement (StartInstanceRefresh, DescribeInstanceRefreshes,
// CancelInstanceRefresh and RollbackInstanceRefresh answer 500
// NotImplemented there) with real Auto Scaling query-protocol responses,
// and passes every other request, of any service, through to moto
// unchanged.
//
// It also injects faults the way AWS reports them (Throttling, or any error
// code for any action, in the query or EC2 error format), so tests can prove
// retries and partial failures against the real SDK clients. Nothing in
// pipbake's non-test code imports it.
//
// A refresh records the request it started from (Params: its preferences
// and desired configuration) and checks it as Auto Scaling does: the group
// exists, no other refresh is active, AutoRollback only with a desired
// configuration and a group that names a numbered launch template version,
// every alarm of the AlarmSpecification exists (in moto's CloudWatch).
//
// It moves one step each time DescribeInstanceRefreshes is called: Pending,
// InProgress at 0%, then through its checkpoints (CheckpointPercentages,
// else 50 and 100), Baking when it has a BakeTime, then Outcome
// (Successful by default; Failed; or stays InProgress at 50% while Outcome
// is InProgress). Before each step it reads the state of its alarms from
// moto's CloudWatch (tests set it with SetAlarmState): an alarm in ALARM
// fails the refresh. A failure with AutoRollback goes RollbackInProgress,
// then RollbackSuccessful, and leaves the group as it was; a success applies
// the desired configuration to moto's group (UpdateAutoScalingGroup), as
// Auto Scaling does. CancelInstanceRefresh makes the active one Cancelling,
// then Cancelled. Refreshes do not replace moto's instances; the instances
// to update are the group's instances when the refresh starts.
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
	// Total is the number of instances the refresh replaces (the group's
	// instances when it started); ToUpdate how many are left.
	Total, ToUpdate int
	// Params are the StartInstanceRefresh request's parameters.
	Params url.Values
	// RollbackReason is set once the refresh rolls back.
	RollbackReason string
	RollbackStart  time.Time
	// Applied is set when a successful refresh applied its desired
	// configuration to the group.
	Applied bool
	next    int    // index in percentages() of the next step
	steps   int    // InProgress steps taken
	region  string // the region it was started in
}

// Preference returns one of the request's preferences, e.g.
// "AutoRollback", "MinHealthyPercentage", "BakeTime" ("" when not given).
func (r *Refresh) Preference(name string) string { return r.Params.Get("Preferences." + name) }

// Checkpoints returns the request's CheckpointPercentages.
func (r *Refresh) Checkpoints() []int {
	return ints(members(r.Params, "Preferences.CheckpointPercentages"))
}

// Alarms returns the alarms of the request's AlarmSpecification.
func (r *Refresh) Alarms() []string {
	return members(r.Params, "Preferences.AlarmSpecification.Alarms")
}

// Desired returns the desired configuration's launch template (id or
// name) and version, from its LaunchTemplate or its mixed instances
// policy's; all empty without a desired configuration.
func (r *Refresh) Desired() (template, version string) {
	for _, p := range []string{"DesiredConfiguration.LaunchTemplate.", "DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification."} {
		t := r.Params.Get(p + "LaunchTemplateId")
		if t == "" {
			t = r.Params.Get(p + "LaunchTemplateName")
		}
		if t != "" || r.Params.Get(p+"Version") != "" {
			return t, r.Params.Get(p + "Version")
		}
	}
	return "", ""
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
		case "RollbackInstanceRefresh":
			f.rollback(w, form)
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
