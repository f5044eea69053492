package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/activate"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// repeatedFlag is a repeatable string flag (in the agent build too).
type repeatedFlag []string

func (l *repeatedFlag) String() string     { return strings.Join(*l, ",") }
func (l *repeatedFlag) Set(v string) error { *l = append(*l, v); return nil }

// cmdActivate is the agent's side of `pipbake push` and `pipbake rollback
// --host`, run on the machine: restart the plan's services, check their
// health, switch back on a failure (package activate).
func cmdActivate(ctx context.Context, args []string) error {
	fs := newFlags("activate")
	planFile := fs.String("f", "", "the `plan` whose sets to activate (pipbake.hcl or its JSON)")
	var previous repeatedFlag
	fs.Var(&previous, "previous", "`SET=ID`: the release current before the install (ID empty: none); one per set")
	rollback := fs.Bool("rollback", false, "switch every set back (to the release before current, or --to) and restart")
	to := fs.String("to", "", "with --rollback: the release `id` to switch to")
	sysroot := fs.String("system-root", "/", "system `root` whose systemd is used")
	asJSON := fs.Bool("json", false, "print the report as JSON on standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *planFile == "" {
		return &exitError{code: 2, err: errors.New("activate: -f is required")}
	}
	pl, err := plan.Load(*planFile)
	if err != nil {
		return err
	}
	opts := activate.Options{Sets: pl.Sets, SysRoot: *sysroot, Log: os.Stderr}
	var rep *activate.Report
	code := 0
	if *rollback {
		if len(previous) > 0 {
			return &exitError{code: 2, err: errors.New("activate: --previous and --rollback do not go together")}
		}
		if rep, err = activate.Rollback(ctx, opts, *to); err != nil {
			return err
		}
		if !rep.Healthy {
			code = activate.ExitRestartError
		}
	} else {
		if *to != "" {
			return &exitError{code: 2, err: errors.New("activate: --to goes with --rollback")}
		}
		prev := map[string]string{}
		for _, p := range previous {
			name, id, ok := strings.Cut(p, "=")
			if !ok {
				return &exitError{code: 2, err: fmt.Errorf("activate: --previous %q is not SET=ID", p)}
			}
			prev[name] = id
		}
		for _, s := range pl.Sets {
			if _, ok := prev[s.Name]; !ok {
				return &exitError{code: 2, err: fmt.Errorf("activate: no --previous for set %q", s.Name)}
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
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		for _, s := range rep.Sets {
			fmt.Printf("%s: current %s (was %s)\n", s.Set, orNone(s.Current), orNone(s.Before))
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
