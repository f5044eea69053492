package plan

import (
	"reflect"
	"strings"
	"testing"
)

var planSeeds = []string{
	"release = \"r1\"\nwheelhouse = \"wheels\"\nset {\n  name = \"api\"\n  lock = \"locks/api.txt\"\n  root = \"/opt/api\"\n}\n",
	"set {\n  name = \"w\"\n  lock = \"/abs/w.txt\"\n  root = \"/opt/w\"\n  python = \"/usr/bin/python3.11\"\n  keep = 3\n  compile = false\n  installer = \"pip\"\n}\n",
	"set {\n  name = \"api\"\n  lock = \"api.txt\"\n  root = \"/opt/api\"\n  service {\n    command = \"gunicorn app:app\"\n    user = \"api\"\n    environment = { PORT = \"8080\" }\n    after = [\"postgresql.service\"]\n    restart = \"always\"\n  }\n}\n",
	"release = \"${\"r\"}-${1 + 2 * 3}\"\nwheelhouse = (true ? \"w\" : \"x\")\nset {\n name=\"a\"\n lock=\"l\"\n root=\"/r\"\n}\n",
	"set {\n name = \n}\n",
	"release = " + strings.Repeat("(", MaxNesting) + `"x"` + strings.Repeat(")", MaxNesting) + "\n",
	"release = <<EOT\nabc ${x}\nEOT\n",
	"set {\n  name = \"api\"\n  lock = \"api.txt\"\n  root = \"/opt/api\"\n  health {\n    command = \"curl -fsS http://127.0.0.1:8080/health\"\n    timeout = \"30s\"\n    interval = \"2s\"\n  }\n}\n",
}

// checkPlan: Parse never panics, a refusal names the file, and an accepted
// plan renders to JSON that parses back to the same plan.
func checkPlan(t *testing.T, name string, src []byte) {
	pl, err := Parse(name, src)
	if err != nil {
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("error does not name the file: %.300v", err)
		}
		return
	}
	js, err := pl.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	back, err := Parse("/plans/plan.json", js)
	if err != nil {
		t.Fatalf("the plan's JSON\n%s\ndoes not parse: %v", js, err)
	}
	if !reflect.DeepEqual(normalized(pl), normalized(back)) {
		t.Fatalf("JSON round trip:\n%+v\n%+v", pl, back)
	}
}

// normalized treats an empty environment or after list as absent, as the
// JSON form (omitempty) does.
func normalized(pl *Plan) *Plan {
	out := *pl
	out.Sets = append([]Set(nil), pl.Sets...)
	for i, s := range out.Sets {
		if s.Service != nil {
			svc := *s.Service
			if len(svc.Environment) == 0 {
				svc.Environment = nil
			}
			if len(svc.After) == 0 {
				svc.After = nil
			}
			out.Sets[i].Service = &svc
		}
	}
	return &out
}

func FuzzPlanHCL(f *testing.F) {
	for _, s := range planSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkPlan(t, "/plans/pipbake.hcl", src)
	})
}

func FuzzPlanJSON(f *testing.F) {
	for _, s := range planSeeds {
		if pl, err := Parse("/plans/pipbake.hcl", []byte(s)); err == nil {
			js, _ := pl.JSON()
			f.Add(js)
		}
	}
	f.Add([]byte(`{"release": "${(1)}", "set": [{"name": "a", "lock": "l", "root": "/r"}]}`))
	f.Add([]byte(`{"set": {"name": "a"}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkPlan(t, "/plans/plan.json", src)
	})
}
