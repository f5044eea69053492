package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/activate"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// repeatedFlag is a repeatable string flag (in the agent build too).
type repeatedFlag []string

func (l *repeatedFlag) String() string     { return strings.Join(*l, ",") }
func (l *repeatedFlag) Set(v string) error { *l = append(*l, v); return nil }

var activateHelp = commandHelp{
	name:    "activate",
	does:    "restart a plan's services after an install, check their health, switch back on a failure (push runs it on each host)",
	forms:   []string{"-f PLAN --previous SET=ID ... [--system-root DIR] [--json]", "-f PLAN --rollback [--to ID] [--system-root DIR] [--json]"},
	example: "pipbake activate -f /tmp/pipbake-push/plan.json --previous api=2026.11.20 --json",
}

// cmdActivate is the agent's side of `pipbake push` and `pipbake rollback
// --host`, run on the machine: restart the plan's services, check their
// health, switch back on a failure (package activate).
func cmdActivate(ctx context.Context, s stdio, args []string) error {
	fs := activateHelp.flags(s)
	planFile := fs.String("f", "", "the `plan` whose sets to activate (pipbake.hcl or its JSON)")
	var previous repeatedFlag
	fs.Var(&previous, "previous", "`SET=ID`: the release current before the install (ID empty: none); one per set")
	rollback := fs.Bool("rollback", false, "switch every set back (to the release before current, or --to) and restart")
	to := fs.String("to", "", "with --rollback: the release `id` to switch to")
	sysroot := fs.String("system-root", "/", "system `root` whose systemd is used")
	asJSON := fs.Bool("json", false, "print the report as JSON on standard output")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *planFile == "" {
		return usageErr("activate: -f is required")
	}
	pl, err := plan.Load(*planFile)
	if err != nil {
		return err
	}
	opts := activate.Options{Sets: pl.Sets, SysRoot: *sysroot, Log: s.stderr}
	var rep *activate.Report
	code := 0
	if *rollback {
		if len(previous) > 0 {
			return usageErr("activate: --previous and --rollback do not go together")
		}
		if rep, err = activate.Rollback(ctx, opts, *to); err != nil {
			return err
		}
		if !rep.Healthy {
			code = activate.ExitRestartError
		}
	} else {
		if *to != "" {
			return usageErr("activate: --to goes with --rollback")
		}
		prev := map[string]string{}
		for _, p := range previous {
			name, id, ok := strings.Cut(p, "=")
			if !ok {
				return usageErr("activate: --previous %q is not SET=ID", p)
			}
			prev[name] = id
		}
		for _, set := range pl.Sets {
			if _, ok := prev[set.Name]; !ok {
				return usageErr("activate: no --previous for set %q", set.Name)
			}
		}
		if rep, err = activate.Activate(ctx, opts, prev); err != nil {
			return err
		}
		switch {
		case rep.Healthy:
		case rep.RolledBack:
			code = activate.ExitUnhealthy
		default:
			code = activate.ExitNotReverted
		}
	}
	if *asJSON {
		if err := printJSON(s.stdout, rep); err != nil {
			return err
		}
	} else {
		for _, set := range rep.Sets {
			fmt.Fprintf(s.stdout, "%s: current %s (was %s)\n", set.Set, orNone(set.Current), orNone(set.Before))
		}
	}
	if code != 0 {
		if *asJSON {
			return &exitError{code: code}
		}
		return &exitError{code: code, err: errors.New(rep.Problem)}
	}
	return nil
}

func orNone(id string) string {
	if id == "" {
		return "none"
	}
	return id
}
