package amazon_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/mototest"
)

// TestEndpointWithoutInstanceRefresh: moto_server itself (no front)
// answers the instance-refresh actions with a bare HTTP 500 page. A
// promote against it fails at once with one plain line that says the
// endpoint lacks instance refresh, instead of retrying an unreadable error
// until the attempts run out; nothing of the group changes.
func TestEndpointWithoutInstanceRefresh(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "1", 1)

	cfg, err := amazon.LoadConfig(ctx, amazon.Options{
		Region: amazontest.Region, Endpoint: amazontest.MotoURL(t), MaxAttempts: 5, MaxBackoff: 2 * time.Second,
		Credentials: credentials.NewStaticCredentialsProvider(mototest.AccessKey, mototest.SecretKey, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Count the instance-refresh requests on the wire: one, not one per
	// attempt (MaxAttempts is 5).
	wire := &actionCounter{next: http.DefaultTransport, counts: map[string]int{}}
	cfg.HTTPClient = &http.Client{Transport: wire}
	c := amazon.New(cfg)
	p, err := c.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"})
	if err == nil {
		_, err = c.Execute(ctx, p, amazon.ExecOptions{Wait: true})
	}
	if err == nil {
		t.Fatal("promote succeeded on an endpoint without instance refresh")
	}
	msg := err.Error()
	t.Logf("the error: %s", msg)
	if !strings.Contains(msg, "does not implement instance refresh") || !strings.Contains(msg, "moto") ||
		strings.Contains(msg, "<") || strings.Contains(msg, "\n") || strings.Contains(msg, "attempts") {
		t.Errorf("error is not one plain line about instance refresh:\n%s", msg)
	}
	if n := wire.count("InstanceRefresh"); n != 1 {
		t.Errorf("instance-refresh actions were sent %d times, want once: retried", n)
	}
	if v, im := e.GroupImage(t, group); v != 1 || im != rel.ami["1"] {
		t.Errorf("the group changed: version %d %s", v, im)
	}
}

// actionCounter counts the Query API actions sent through it.
type actionCounter struct {
	next   http.RoundTripper
	mu     sync.Mutex
	counts map[string]int
}

func (a *actionCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			a.mu.Lock()
			a.counts[form.Get("Action")]++
			a.mu.Unlock()
		}
	}
	return a.next.RoundTrip(r)
}

// count is how many actions whose name holds part were sent.
func (a *actionCounter) count(part string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for action, c := range a.counts {
		if strings.Contains(action, part) {
			n += c
		}
	}
	return n
}
