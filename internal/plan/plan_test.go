package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseHCL(t *testing.T) {
	src := `
release    = "r1"
wheelhouse = "wheels"

set {
  name = "api"
  lock = "locks/api.txt"
  root = "/opt/api"
}

set {
  name      = "worker"
  lock      = "/abs/worker.txt"
  root      = "/opt/worker"
  python    = "/usr/bin/python3.11"
  keep      = 3
  compile   = false
  installer = "pip"
}
`
	pl, err := Parse("/etc/bake/pipbake.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if pl.Release != "r1" || pl.Wheelhouse != "/etc/bake/wheels" || len(pl.Sets) != 2 {
		t.Fatalf("plan = %+v", pl)
	}
	api, worker := pl.Sets[0], pl.Sets[1]
	if api.Lock != "/etc/bake/locks/api.txt" || !api.CompileOrDefault() || api.KeepOrDefault() != 0 {
		t.Errorf("api = %+v", api)
	}
	if worker.Lock != "/abs/worker.txt" || worker.CompileOrDefault() || worker.KeepOrDefault() != 3 || worker.Installer != "pip" {
		t.Errorf("worker = %+v", worker)
	}
	// the JSON form reads back the same
	js, err := pl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(p, js, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p)
	if err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if back.Sets[1].Installer != "pip" || *back.Sets[1].Keep != 3 || back.Sets[0].Lock != "/etc/bake/locks/api.txt" {
		t.Errorf("JSON round trip: %+v", back.Sets)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"unknown key": {"set {\n  name = \"a\"\n  lock = \"l\"\n  root = \"/r\"\n  colour = \"red\"\n}\n", `pipbake.hcl:5: Unsupported argument`},
		"missing":     {"set {\n  name = \"a\"\n  root = \"/r\"\n}\n", `pipbake.hcl:1: Missing required argument`},
		"top unknown": {"relase = \"x\"\nset {\n name=\"a\"\n lock=\"l\"\n root=\"/r\"\n}\n", `pipbake.hcl:1: Unsupported argument`},
		"relative":    {"set {\n name=\"a\"\n lock=\"l\"\n root=\"r\"\n}\n", `pipbake.hcl:1: set "a": root "r" must be an absolute path`},
		"installer":   {"set {\n name=\"a\"\n lock=\"l\"\n root=\"/r\"\n installer=\"conda\"\n}\n", `installer "conda"`},
		"duplicate":   {"set {\n name=\"a\"\n lock=\"l\"\n root=\"/r\"\n}\nset {\n name=\"a\"\n lock=\"l\"\n root=\"/s\"\n}\n", `pipbake.hcl:6: set "a" is defined twice (first at pipbake.hcl:1)`},
		"syntax":      {"set {\n name = \n}\n", `pipbake.hcl:2`},
		"empty":       {"", "no set blocks"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("pipbake.hcl", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestReportsEveryProblem(t *testing.T) {
	src := "set {\n name=\"a\"\n lock=\"l\"\n root=\"rel\"\n keep=0\n installer=\"x\"\n}\n"
	_, err := Parse("p.hcl", []byte(src))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"absolute path", "keep must be at least 1", `installer "x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestServiceBlock(t *testing.T) {
	src := `
set {
  name = "api"
  lock = "api.txt"
  root = "/opt/api"
  service {
    command     = "gunicorn app:app"
    user        = "api"
    environment = { PORT = "8080" }
    after       = ["postgresql.service"]
  }
}
set {
  name = "bad"
  lock = "b.txt"
  root = "/opt/bad"
  service {
    command           = ""
    restart           = "sometimes"
    working_directory = "rel"
    user              = "no body"
  }
}
`
	_, err := Parse("p.hcl", []byte(src))
	if err == nil {
		t.Fatal("want errors for the bad service")
	}
	for _, want := range []string{`p.hcl:13: set "bad": service: command must not be empty`, `restart "sometimes"`, `working_directory "rel"`, `"no body" is not a valid user`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	pl, err := Parse("p.hcl", []byte(src[:strings.Index(src, "set {\n  name = \"bad\"")]))
	if err != nil {
		t.Fatal(err)
	}
	svc := pl.Sets[0].Service
	if svc == nil || svc.Command != "gunicorn app:app" || svc.Environment["PORT"] != "8080" || svc.After[0] != "postgresql.service" {
		t.Fatalf("service = %+v", svc)
	}
}

func TestHealthBlock(t *testing.T) {
	src := `
set {
  name = "api"
  lock = "api.txt"
  root = "/opt/api"
  health {
    command  = "curl -fsS http://127.0.0.1:8080/health"
    timeout  = "45s"
    interval = "250ms"
  }
}
set {
  name = "worker"
  lock = "worker.txt"
  root = "/opt/worker"
  health {
    command = "test -e /run/worker.ready"
  }
}
`
	pl, err := Parse("/etc/bake/pipbake.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	api, worker := pl.Sets[0].Health, pl.Sets[1].Health
	if api == nil || api.Command != "curl -fsS http://127.0.0.1:8080/health" || api.TimeoutOrDefault() != 45*time.Second || api.IntervalOrDefault() != 250*time.Millisecond {
		t.Fatalf("api health = %+v", api)
	}
	if worker == nil || worker.TimeoutOrDefault() != DefaultHealthTimeout || worker.IntervalOrDefault() != DefaultHealthInterval {
		t.Fatalf("worker health = %+v", worker)
	}
	js, err := pl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("/x/plan.json", js)
	if err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if *back.Sets[0].Health != *api || *back.Sets[1].Health != *worker {
		t.Errorf("JSON round trip: %+v %+v", back.Sets[0].Health, back.Sets[1].Health)
	}
}

func TestHealthErrorsNameLine(t *testing.T) {
	set := func(health string) string {
		return "set {\n name=\"a\"\n lock=\"l\"\n root=\"/r\"\n}\nset {\n name=\"b\"\n lock=\"l\"\n root=\"/s\"\n health {\n" + health + "\n }\n}\n"
	}
	for name, tc := range map[string]struct{ src, want string }{
		"no command":    {set(`  timeout = "3s"`), `pipbake.hcl:10: Missing required argument`},
		"empty command": {set(`  command = " "`), `pipbake.hcl:6: set "b": health: command must not be empty`},
		"bad timeout":   {set(`  command = "true"` + "\n" + `  timeout = "soon"`), `pipbake.hcl:6: set "b": health: timeout "soon" is not a duration`},
		"zero timeout":  {set(`  command = "true"` + "\n" + `  timeout = "0s"`), `timeout "0s" is not a duration`},
		"long timeout":  {set(`  command = "true"` + "\n" + `  timeout = "2h"`), `timeout "2h" is not a duration`},
		"fast interval": {set(`  command = "true"` + "\n" + `  interval = "1ms"`), `interval "1ms" is not a duration between 100ms`},
		"unknown key":   {set(`  command = "true"` + "\n" + `  retries = 3`), `pipbake.hcl:12: Unsupported argument`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("pipbake.hcl", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}
