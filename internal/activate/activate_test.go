package activate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// roots makes a root per name holding complete releases ids, current at
// cur.
func makeRoot(t *testing.T, dir, cur string, ids ...string) string {
	t.Helper()
	for _, id := range ids {
		p := filepath.Join(dir, "releases", id)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, release.ReceiptName), []byte("{}"), 0o644)
	}
	if cur != "" {
		r, err := release.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Switch(cur); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func current(t *testing.T, root string) string {
	t.Helper()
	id, err := currentOf(root)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestActivateHealthy(t *testing.T) {
	dir := t.TempDir()
	api := makeRoot(t, filepath.Join(dir, "api"), "2", "1", "2")
	worker := makeRoot(t, filepath.Join(dir, "worker"), "2", "1", "2")
	var log bytes.Buffer
	opts := Options{Log: &log, SysRoot: dir, Sets: []plan.Set{
		{Name: "api", Root: api, Service: &plan.Service{Command: "serve"}, Health: &plan.Health{Command: "test -e bin-marker || pwd"}},
		{Name: "worker", Root: worker},
	}}
	rep, err := Activate(context.Background(), opts, map[string]string{"api": "1", "worker": "2"})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy || rep.RolledBack || rep.Systemd || rep.Sets[0].Health == nil || !rep.Sets[0].Health.Passed {
		t.Fatalf("report %+v", rep)
	}
	// the check ran in the set's current release
	if got := rep.Sets[0].Health.Output; got != filepath.Join(api, "current") {
		t.Errorf("health output %q", got)
	}
	if !rep.Sets[0].Changed || rep.Sets[1].Changed || rep.Sets[1].Health != nil {
		t.Errorf("sets %+v", rep.Sets)
	}
	// no systemd here: said plainly
	if !strings.Contains(log.String(), "systemd is not running on this machine: did NOT restart api.service") || len(rep.NotRestarted) != 1 || len(rep.Restarted) != 0 {
		t.Errorf("log %q, report %+v", log.String(), rep)
	}
	if current(t, api) != "2" {
		t.Errorf("api current %s", current(t, api))
	}
}

func TestActivateUnhealthyRollsBack(t *testing.T) {
	dir := t.TempDir()
	api := makeRoot(t, filepath.Join(dir, "api"), "2", "1", "2")
	worker := makeRoot(t, filepath.Join(dir, "worker"), "2", "1", "2")
	fresh := makeRoot(t, filepath.Join(dir, "fresh"), "1", "1")
	opts := Options{Sets: []plan.Set{
		{Name: "api", Root: api, Health: &plan.Health{Command: "echo boom; exit 1", Timeout: "1s", Interval: "100ms"}},
		{Name: "worker", Root: worker, Health: &plan.Health{Command: "true"}},
		{Name: "fresh", Root: fresh},
	}}
	start := time.Now()
	rep, err := Activate(context.Background(), opts, map[string]string{"api": "1", "worker": "1", "fresh": ""})
	if err != nil {
		t.Fatal(err)
	}
	// A guard against a check that never stops (it always fails), not a
	// measure of speed: a loaded machine may take a few seconds.
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("took %v with a 1s timeout", el)
	}
	h := rep.Sets[0].Health
	if rep.Healthy || h == nil || h.Passed || h.Tries < 3 || h.Output != "boom" || !strings.Contains(rep.Problem, "health check failed: api") {
		t.Fatalf("report %+v, api health %+v", rep, h)
	}
	// every set it changed goes back; one without a previous release stays, said so
	if current(t, api) != "1" || current(t, worker) != "1" || current(t, fresh) != "1" {
		t.Errorf("current: api %s worker %s fresh %s", current(t, api), current(t, worker), current(t, fresh))
	}
	if rep.RolledBack || !strings.Contains(rep.Problem, `set "fresh": no previous release to switch back to; it stays on 1`) {
		t.Errorf("problem %q", rep.Problem)
	}
	if rep.Sets[0].Current != "1" || rep.Sets[1].Current != "1" {
		t.Errorf("sets %+v", rep.Sets)
	}
	// without the fresh set the rollback is whole
	makeRoot(t, api, "2")
	makeRoot(t, worker, "2")
	rep, err = Activate(context.Background(), Options{Sets: opts.Sets[:2]}, map[string]string{"api": "1", "worker": "1"})
	if err != nil || !rep.RolledBack || rep.Healthy {
		t.Errorf("report %+v, %v", rep, err)
	}
}

func TestHealthRetriesAndTimeout(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	h := &plan.Health{Command: "echo x >> " + count + "; test $(wc -l < " + count + ") -ge 3", Interval: "100ms"}
	res := runHealth(context.Background(), h, dir)
	if !res.Passed || res.Tries != 3 {
		t.Errorf("flaky check: %+v", res)
	}
	// a hung check is killed at the timeout, with what it started
	pidFile := filepath.Join(dir, "pid")
	h = &plan.Health{Command: "sleep 60 & echo $! > " + pidFile + "; wait", Timeout: "500ms"}
	start := time.Now()
	res = runHealth(context.Background(), h, dir)
	if res.Passed || time.Since(start) > 30*time.Second { // the check sleeps 60 s
		t.Fatalf("hung check: %+v after %v", res, time.Since(start))
	}
	data, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(data))
	gone := func() bool {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	}
	if !testenv.Eventually(5*time.Second, gone) {
		st, _ := os.ReadFile("/proc/" + pid + "/stat")
		t.Errorf("the check's child %s outlived the timeout: %s", pid, st)
	}
}

// TestHealthOutputOfAKilledTry: when the try running at the timeout is
// killed before it says anything, the result keeps what the last try
// that said something said, not "signal: killed". On a loaded machine
// the last try of a failing check often starts just before the timeout;
// TestActivateUnhealthyRollsBack then saw "signal: killed" instead of
// the check's "boom" (3 of 6 make check runs on the shared machine).
func TestHealthOutputOfAKilledTry(t *testing.T) {
	dir := t.TempDir()
	tried := filepath.Join(dir, "tried")
	// The first try fails saying boom; the next ones hang, silent.
	h := &plan.Health{Command: "if [ -e " + tried + " ]; then exec sleep 60; fi; touch " + tried + "; echo boom; exit 1", Timeout: "1s", Interval: "100ms"}
	res := runHealth(context.Background(), h, dir)
	if res.Passed || res.Tries != 2 || res.Output != "boom" {
		t.Errorf("got %+v, want 2 tries and the first one's output", res)
	}
	// A hung check that never said anything: what stopped it.
	h = &plan.Health{Command: "exec sleep 60", Timeout: "200ms"}
	if res := runHealth(context.Background(), h, dir); res.Passed || res.Output != "signal: killed" {
		t.Errorf("silent hung check: %+v", res)
	}
}

func TestRestartWithSystemd(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "run", "systemd", "system"), 0o755)
	calls := filepath.Join(dir, "calls")
	systemctl := filepath.Join(dir, "systemctl")
	os.WriteFile(systemctl, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\ncase \"$1 $2\" in 'restart bad.service') echo 'Job failed' >&2; exit 1;; esac\n"), 0o755)
	api := makeRoot(t, filepath.Join(dir, "api"), "2", "1", "2")
	opts := Options{SysRoot: dir, Systemctl: systemctl, Sets: []plan.Set{{Name: "api", Root: api, Service: &plan.Service{Command: "serve"}}}}
	rep, err := Activate(context.Background(), opts, map[string]string{"api": "1"})
	if err != nil || !rep.Systemd || !rep.Healthy || strings.Join(rep.Restarted, ",") != "api.service" {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if data, _ := os.ReadFile(calls); string(data) != "daemon-reload\nrestart api.service\n" {
		t.Errorf("systemctl calls %q", data)
	}
	// a unit that does not restart is a failure: switched back, restarted again
	bad := makeRoot(t, filepath.Join(dir, "bad"), "2", "1", "2")
	os.Remove(calls)
	opts.Sets = []plan.Set{{Name: "bad", Root: bad, Service: &plan.Service{Command: "serve"}}}
	rep, err = Activate(context.Background(), opts, map[string]string{"bad": "1"})
	if err != nil || rep.Healthy || !rep.RolledBack || current(t, bad) != "1" || !strings.Contains(rep.Problem, "systemctl restart bad.service") || !strings.Contains(rep.Problem, "Job failed") {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestRollback(t *testing.T) {
	dir := t.TempDir()
	api := makeRoot(t, filepath.Join(dir, "api"), "3", "1", "2", "3")
	worker := makeRoot(t, filepath.Join(dir, "worker"), "3", "1", "3")
	opts := Options{Sets: []plan.Set{{Name: "api", Root: api}, {Name: "worker", Root: worker, Health: &plan.Health{Command: "true"}}}}
	rep, err := Rollback(context.Background(), opts, "")
	if err != nil {
		t.Fatal(err)
	}
	if current(t, api) != "2" || current(t, worker) != "1" || rep.Sets[0].Before != "3" || rep.Sets[1].Current != "1" || rep.Sets[1].Health == nil || !rep.Healthy {
		t.Fatalf("report %+v", rep)
	}
	// --to a release one set lacks: nothing switched
	_, err = Rollback(context.Background(), opts, "2")
	if err == nil || !strings.Contains(err.Error(), `set "worker": no complete release "2"`) {
		t.Fatalf("want a refusal, got %v", err)
	}
	if current(t, api) != "2" || current(t, worker) != "1" {
		t.Errorf("a refused rollback switched something")
	}
	if _, err := Rollback(context.Background(), opts, "3"); err != nil || current(t, api) != "3" || current(t, worker) != "3" {
		t.Errorf("rollback --to 3: %v", err)
	}
}
