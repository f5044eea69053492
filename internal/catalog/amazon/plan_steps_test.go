package amazon

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestPlanSteps: the phases Execute runs for each shape of plan, in order,
// without AWS.
func TestPlanSteps(t *testing.T) {
	base := func() *Plan {
		return &Plan{Action: "promote", Region: "us-east-1", Group: "web", TemplateID: "lt-1", TemplateName: "web", VersionSpec: "3",
			FromVersion: 3, FromImage: "ami-old", To: &Image{ID: "ami-new"}, NewVersion: 4, Switch: "group",
			GroupTags: map[string]string{"pipbake:release": "7"}}
	}
	for _, c := range []struct {
		name string
		edit func(*Plan)
		want []stepKind
	}{
		{"a group naming a version", func(*Plan) {}, []stepKind{stepCreate, stepSwitch, stepTag}},
		{"$Default", func(p *Plan) { p.Switch, p.VersionSpec = "default", "$Default" }, []stepKind{stepCreate, stepSwitch, stepTag}},
		{"$Latest, pinned", func(p *Plan) { p.Switch, p.VersionSpec, p.Pin = "latest", "$Latest", true }, []stepKind{stepPin, stepCreate, stepTag}},
		{"with a refresh", func(p *Plan) { p.Refresh = &RefreshSpec{DesiredVersion: 4} }, []stepKind{stepCreate, stepSwitch, stepRefresh, stepTag}},
		{"cancelling a refresh first", func(p *Plan) { p.CancelRefresh = "r-1"; p.Refresh = &RefreshSpec{DesiredVersion: 4} },
			[]stepKind{stepCancel, stepCreate, stepSwitch, stepRefresh, stepTag}},
		{"a rollback to a version that exists", func(p *Plan) { p.NewVersion = 0; p.Refresh = &RefreshSpec{DesiredVersion: 2} }, []stepKind{stepRefresh, stepTag}},
	} {
		p := base()
		c.edit(p)
		var got []stepKind
		for _, s := range p.steps() {
			got = append(got, s.kind)
			if s.text == "" {
				t.Errorf("%s: step %d has no text", c.name, s.kind)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: steps %v, want %v", c.name, got, c.want)
		}
	}
	// The refresh says where AWS leaves the group when it names $Default.
	p := base()
	p.Switch, p.VersionSpec, p.Refresh = "default", "$Default", &RefreshSpec{DesiredVersion: 4}
	if s := p.steps()[2]; s.kind != stepRefresh || !strings.Contains(s.text, "AWS sets the group to launch template version 4 (it names $Default now)") {
		t.Errorf("refresh step: %q", s.text)
	}
}

// TestPartialErrorSaysWhereTheGroupStands: a failure in each phase is
// wrapped once, with what was done, where the group stands and how to go
// on.
func TestPartialErrorSaysWhereTheGroupStands(t *testing.T) {
	boom := errors.New("boom")
	p := &Plan{Group: "web", Region: "us-east-1", TemplateID: "lt-1", TemplateName: "web", VersionSpec: "3", FromVersion: 3, FromImage: "ami-old",
		To: &Image{ID: "ami-new"}, NewVersion: 4, Switch: "group", GroupTags: map[string]string{}}
	steps := p.steps() // create, switch, tag
	for i, want := range []struct{ state, next string }{
		{"still launches version 3 (ami-old), as before", "run the same command again"},
		{"version 4 of web (lt-1) was created", "delete-launch-template-versions"},
		{"", "tags are pipbake's record only"},
	} {
		x := &execution{p: p, res: &Result{Version: 3, Target: 4}, done: []string{"something"}}
		if i == 2 {
			x.res.Version = 4
		}
		err := x.partial(steps[i], boom)
		var pe *PartialError
		if !errors.As(err, &pe) || !errors.Is(err, boom) || pe.Step != steps[i].text || len(pe.Done) != 1 {
			t.Fatalf("step %d: %#v", i, err)
		}
		if !strings.Contains(pe.State, want.state) || !strings.Contains(pe.Next, want.next) {
			t.Errorf("step %d: now %q, next %q", i, pe.State, pe.Next)
		}
		if strings.Count(err.Error(), "boom") != 1 {
			t.Errorf("step %d: the cause should appear once: %s", i, err)
		}
	}
}
