// Package activate is what runs on a machine after `pipbake push`
// switched its sets' `current` links: it restarts the sets' services
// (systemd, when it runs), runs each set's health check, and when a check
// (or the restart) fails, switches every set it changed back to the
// release that was current before and restarts them again. `pipbake
// rollback --host` uses it to switch back on purpose.
//
// It runs on the machine (the agent's `pipbake activate`), so a rollback
// does not depend on the SSH connection staying up.
package activate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
)

// Options configure Activate and Rollback.
type Options struct {
	// Sets are the plan's sets (roots, services, health checks).
	Sets []plan.Set
	// SysRoot is the system root whose systemd is asked about (default /).
	SysRoot string
	// Systemctl is the systemctl program (default "systemctl").
	Systemctl string
	// Log gets progress lines.
	Log io.Writer
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Report says what was done on the machine.
type Report struct {
	// Systemd says whether systemd runs on the machine.
	Systemd bool `json:"systemd"`
	// Restarted are the units restarted (after the switch, and again after
	// a rollback); NotRestarted those that would have been, had systemd
	// been running.
	Restarted    []string    `json:"restarted,omitempty"`
	NotRestarted []string    `json:"not_restarted,omitempty"`
	Sets         []SetReport `json:"sets"`
	// Healthy is false when a health check or the restart failed.
	Healthy bool `json:"healthy"`
	// RolledBack says the sets changed were switched back.
	RolledBack bool `json:"rolled_back"`
	// Problem says what failed, when something did.
	Problem string `json:"problem,omitempty"`
}

// SetReport is one set's state.
type SetReport struct {
	Set  string `json:"set"`
	Root string `json:"root"`
	// Before is the release current before (the push, or the rollback).
	Before string `json:"before"`
	// Current is the release current now.
	Current string        `json:"current"`
	Changed bool          `json:"changed"`
	Unit    string        `json:"unit,omitempty"`
	Health  *HealthResult `json:"health,omitempty"`
}

// HealthResult is a health check's outcome.
type HealthResult struct {
	Passed  bool          `json:"passed"`
	Tries   int           `json:"tries"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Output is the end of the last try's output (of the try before
	// when the last was killed at the timeout before saying anything).
	Output string `json:"output,omitempty"`
}

// Exit statuses of `pipbake activate`, which pipbake push reads.
const (
	ExitUnhealthy    = 3 // a check failed; the sets were switched back
	ExitNotReverted  = 4 // a check failed and some set could not be switched back
	ExitRestartError = 5 // rollback: switched, but a restart or check failed
)

// Activate restarts the services of the sets whose current release is not
// previous[set] (the release current before the push; "" none), runs their
// health checks, and on a failure switches those sets back to previous and
// restarts them again. The report says what happened; the error is for
// what kept it from deciding (an unreadable root).
func Activate(ctx context.Context, opts Options, previous map[string]string) (*Report, error) {
	rep := &Report{Systemd: systemdRunning(opts.SysRoot), Healthy: true}
	var changed []int
	for _, s := range opts.Sets {
		cur, err := currentOf(s.Root)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", s.Name, err)
		}
		sr := SetReport{Set: s.Name, Root: s.Root, Before: previous[s.Name], Current: cur}
		sr.Changed = cur != sr.Before
		if s.Service != nil {
			sr.Unit = s.Name + ".service"
		}
		if sr.Changed {
			changed = append(changed, len(rep.Sets))
		}
		rep.Sets = append(rep.Sets, sr)
	}
	if len(changed) == 0 {
		opts.logf("pipbake: no set changed: nothing to restart or check")
		return rep, nil
	}
	if err := restart(ctx, &opts, rep, changed); err != nil {
		rep.Healthy = false
		rep.Problem = err.Error()
	} else if failed := check(ctx, &opts, rep, changed); len(failed) > 0 {
		rep.Healthy = false
		rep.Problem = "health check failed: " + strings.Join(failed, ", ")
	}
	if rep.Healthy {
		return rep, nil
	}
	opts.logf("pipbake: %s; switching back to the previous releases", rep.Problem)
	var problems []string
	for _, i := range changed {
		sr := &rep.Sets[i]
		if sr.Before == "" {
			problems = append(problems, fmt.Sprintf("set %q: no previous release to switch back to; it stays on %s", sr.Set, sr.Current))
			continue
		}
		if err := switchTo(sr.Root, sr.Before); err != nil {
			problems = append(problems, fmt.Sprintf("set %q: %v", sr.Set, err))
			continue
		}
		opts.logf("pipbake: %s: current is %s again (was %s)", sr.Set, sr.Before, sr.Current)
		sr.Current = sr.Before
	}
	rep.RolledBack = len(problems) == 0
	if err := restart(ctx, &opts, rep, changed); err != nil {
		problems = append(problems, "after switching back: "+err.Error())
	}
	if len(problems) > 0 {
		rep.Problem += "; " + strings.Join(problems, "; ")
	}
	return rep, nil
}

// Rollback switches every set to release to (or, when to is "", to the
// release before its current one), all or none, then restarts the sets'
// services and runs their health checks (a failure is reported, not acted
// on).
func Rollback(ctx context.Context, opts Options, to string) (*Report, error) {
	rep := &Report{Systemd: systemdRunning(opts.SysRoot), Healthy: true}
	// lock every root, in path order, then check every target first
	sets := append([]plan.Set(nil), opts.Sets...)
	order := make([]int, len(sets))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return filepath.Clean(sets[order[a]].Root) < filepath.Clean(sets[order[b]].Root) })
	roots := make([]*release.Root, len(sets))
	for _, i := range order {
		r, err := release.Open(sets[i].Root)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", sets[i].Name, err)
		}
		unlock, err := r.Lock()
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", sets[i].Name, err)
		}
		defer unlock()
		roots[i] = r
	}
	dests := make([]string, len(sets))
	var problems []string
	for i, s := range sets {
		from, dest, err := target(roots[i], to)
		if err != nil {
			problems = append(problems, fmt.Sprintf("set %q: %v", s.Name, err))
			continue
		}
		dests[i] = dest
		sr := SetReport{Set: s.Name, Root: s.Root, Before: from, Current: from}
		if s.Service != nil {
			sr.Unit = s.Name + ".service"
		}
		rep.Sets = append(rep.Sets, sr)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("nothing was switched:\n%s", strings.Join(problems, "\n"))
	}
	var changed []int
	for i := range sets {
		sr := &rep.Sets[i]
		if dests[i] == sr.Before {
			continue
		}
		if err := roots[i].Switch(dests[i]); err != nil {
			// put back the sets already switched
			for _, j := range changed {
				_ = roots[j].Switch(rep.Sets[j].Before)
			}
			return nil, fmt.Errorf("set %q: %w (the sets switched before it were switched back)", sr.Set, err)
		}
		sr.Current, sr.Changed = dests[i], true
		changed = append(changed, i)
		opts.logf("pipbake: %s: current is now %s (was %s)", sr.Set, sr.Current, sr.Before)
	}
	if len(changed) == 0 {
		return rep, nil
	}
	if err := restart(ctx, &opts, rep, changed); err != nil {
		rep.Healthy, rep.Problem = false, err.Error()
	} else if failed := check(ctx, &opts, rep, changed); len(failed) > 0 {
		rep.Healthy, rep.Problem = false, "health check failed: "+strings.Join(failed, ", ")
	}
	return rep, nil
}

// target is the release a rollback of r goes to, and the current one.
func target(r *release.Root, to string) (from, dest string, err error) {
	list, err := r.List()
	if err != nil {
		return "", "", err
	}
	cur, err := r.Current()
	if err != nil {
		return "", "", err
	}
	var ids []string
	idx := -1
	for i, rel := range list {
		ids = append(ids, rel.ID)
		if rel.ID == cur {
			idx = i
		}
	}
	if to != "" {
		for _, id := range ids {
			if id == to {
				return cur, to, nil
			}
		}
		return "", "", fmt.Errorf("no complete release %q in %s (have %s)", to, r.Dir, strings.Join(ids, ", "))
	}
	switch {
	case cur == "":
		return "", "", fmt.Errorf("%s has no current release", r.Dir)
	case idx < 0:
		return "", "", fmt.Errorf("the current release %q of %s is not complete; give --to", cur, r.Dir)
	case idx == 0:
		return "", "", fmt.Errorf("%q is the oldest release in %s; nothing earlier to go back to", cur, r.Dir)
	}
	return cur, list[idx-1].ID, nil
}

func currentOf(root string) (string, error) {
	r, err := release.Open(root)
	if err != nil {
		return "", err
	}
	return r.Current()
}

// switchTo points root's current at id, under the root's lock.
func switchTo(root, id string) error {
	r, err := release.Open(root)
	if err != nil {
		return err
	}
	unlock, err := r.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return r.Switch(id)
}

// systemdRunning is sd_booted(): /run/systemd/system is a folder.
func systemdRunning(sysroot string) bool {
	if sysroot == "" {
		sysroot = "/"
	}
	st, err := os.Stat(filepath.Join(sysroot, "run", "systemd", "system"))
	return err == nil && st.IsDir()
}

// restart restarts the units of the sets at idx (daemon-reload first: the
// install may have rewritten them), or says plainly that it did not.
func restart(ctx context.Context, opts *Options, rep *Report, idx []int) error {
	var units []string
	for _, i := range idx {
		if u := rep.Sets[i].Unit; u != "" {
			units = append(units, u)
		}
	}
	if len(units) == 0 {
		return nil
	}
	if !rep.Systemd {
		opts.logf("pipbake: systemd is not running on this machine: did NOT restart %s", strings.Join(units, ", "))
		rep.NotRestarted = appendNew(rep.NotRestarted, units...)
		return nil
	}
	systemctl := opts.Systemctl
	if systemctl == "" {
		systemctl = "systemctl"
	}
	for _, args := range [][]string{{"daemon-reload"}, append([]string{"restart"}, units...)} {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, systemctl, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, tailOf(out.Bytes(), 1024))
		}
	}
	opts.logf("pipbake: restarted %s", strings.Join(units, ", "))
	rep.Restarted = appendNew(rep.Restarted, units...)
	return nil
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, x := range list {
			found = found || x == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

// check runs the health checks of the sets at idx, at once, and returns
// the names of those that failed.
func check(ctx context.Context, opts *Options, rep *Report, idx []int) []string {
	var wg sync.WaitGroup
	byName := map[string]plan.Set{}
	for _, s := range opts.Sets {
		byName[s.Name] = s
	}
	for _, i := range idx {
		s := byName[rep.Sets[i].Set]
		if s.Health == nil {
			continue
		}
		wg.Add(1)
		go func(sr *SetReport, h *plan.Health, dir string) {
			defer wg.Done()
			sr.Health = runHealth(ctx, h, dir)
		}(&rep.Sets[i], s.Health, filepath.Join(s.Root, "current"))
	}
	wg.Wait()
	var failed []string
	for _, i := range idx {
		sr := rep.Sets[i]
		if sr.Health == nil {
			continue
		}
		if sr.Health.Passed {
			opts.logf("pipbake: %s: health check passed (%d tries, %.1fs)", sr.Set, sr.Health.Tries, sr.Health.Elapsed.Seconds())
		} else {
			opts.logf("pipbake: %s: health check FAILED after %d tries in %.1fs: %s", sr.Set, sr.Health.Tries, sr.Health.Elapsed.Seconds(), sr.Health.Output)
			failed = append(failed, sr.Set)
		}
	}
	return failed
}

// runHealth runs h's command (sh -c, in dir, stdin empty) until it exits 0
// or the timeout passes; a try still running at the timeout is killed with
// its process group. A try killed before it said anything leaves the
// output of the try before it (why the check was failing), or, when no
// try said anything, what stopped it.
func runHealth(ctx context.Context, h *plan.Health, dir string) *HealthResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, h.TimeoutOrDefault())
	defer cancel()
	res := &HealthResult{}
	for {
		res.Tries++
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", h.Command)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &out, &out
		killGroup(cmd)
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		said := tailOf(out.Bytes(), 2048)
		if err != nil && ctx.Err() != nil {
			if said != "" {
				res.Output = said
			} else if res.Output == "" {
				res.Output = err.Error()
			}
			break
		}
		res.Output = said
		if err == nil {
			res.Passed = true
			break
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) && res.Output == "" {
			res.Output = err.Error()
		}
		select {
		case <-ctx.Done():
		case <-time.After(h.IntervalOrDefault()):
			continue
		}
		break
	}
	if !res.Passed && res.Output == "" {
		res.Output = "(no output)"
	}
	res.Elapsed = time.Since(start)
	return res
}

// tailOf is the end of b, at most n bytes, trimmed.
func tailOf(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
