package amazon_test

import (
	"context"
	"strings"
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
	c := amazon.New(cfg)
	start := time.Now()
	p, err := c.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"})
	if err == nil {
		_, err = c.Execute(ctx, p, amazon.ExecOptions{Wait: true})
	}
	took := time.Since(start)
	if err == nil {
		t.Fatal("promote succeeded on an endpoint without instance refresh")
	}
	msg := err.Error()
	t.Logf("the error: %s", msg)
	if !strings.Contains(msg, "does not implement instance refresh") || !strings.Contains(msg, "moto") ||
		strings.Contains(msg, "<") || strings.Contains(msg, "\n") || strings.Contains(msg, "attempts") {
		t.Errorf("error is not one plain line about instance refresh:\n%s", msg)
	}
	if took > 3*time.Second {
		t.Errorf("took %v: retried", took)
	}
	if v, im := e.GroupImage(t, group); v != 1 || im != rel.ami["1"] {
		t.Errorf("the group changed: version %d %s", v, im)
	}
}
