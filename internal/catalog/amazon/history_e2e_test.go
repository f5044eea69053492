package amazon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
)

// TestRollbackGoesBackToWhatTheGroupRan: promoted from 1 to 3, skipping
// 2, a group rolls back to 1, what it ran, not to 2, which never ran.
// Repeated rollbacks walk back through the history instead of returning
// to the release just left; --to still names any release.
func TestRollbackGoesBackToWhatTheGroupRan(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	rel := bakeReleases(t, e, "1", "2", "3", "4")
	lt := e.Template(t, amazontest.Unique("lt"), rel.ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 1)
	change := func(p *amazon.Plan, err error) *amazon.Plan {
		t.Helper()
		p = mustPlan(t)(p, err)
		if _, err := e.Catalog.Execute(ctx, p, amazon.ExecOptions{Wait: true}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	launches := func(want string) {
		t.Helper()
		if _, im := e.GroupImage(t, group); im != rel.ami[want] {
			t.Fatalf("the group launches %s, want release %s (%s)", im, want, rel.ami[want])
		}
	}

	change(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "3"}))
	launches("3")
	p := change(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
	launches("1")
	if !strings.Contains(p.String(), "why:    the group launched "+rel.family+"@1 ("+rel.ami["1"]+") with version 1") {
		t.Errorf("the plan does not say why:\n%s", p)
	}

	// 1 -> 2 -> 4, then back: 2, then 1 (not 4 again), then nothing: each
	// rollback undoes one promote.
	change(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "2"}))
	change(e.Catalog.PlanPromote(ctx, amazon.ChangeOptions{Group: group, Release: "4"}))
	launches("4")
	change(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
	launches("2")
	p = change(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group}))
	launches("1")
	if !strings.Contains(p.Description, "restores version 3") {
		t.Errorf("description: %s", p.Description)
	}
	_, err := e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group})
	if !amazon.IsRefusal(err) || !strings.Contains(err.Error(), "nothing to go back to") || !strings.Contains(err.Error(), "name a release with --to") {
		t.Fatalf("at the start of the history: %v", err)
	}
	// --to names any release, even one the group never ran.
	change(e.Catalog.PlanRollback(ctx, amazon.ChangeOptions{Group: group, To: "2"}))
	launches("2")
}
