package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
)

// StopState is what `pipbake stop --json` prints: which installs it
// stopped and where each set's current points afterwards.
type StopState struct {
	// Stopped are the installs found running (process ids); Killed those
	// of them that had to be killed after --wait.
	Stopped []int `json:"stopped"`
	Killed  []int `json:"killed"`
	// Release is the plan's release id.
	Release string     `json:"release"`
	Sets    []SetState `json:"sets"`
}

// SetState is one set's state after a stop.
type SetState struct {
	Name string `json:"name"`
	Root string `json:"root"`
	// Current is the release current points at ("" when none).
	Current string `json:"current"`
	// Switched says whether that is the plan's release.
	Switched bool `json:"switched"`
	// Removed says the plan's release, not current, was left by a killed
	// install and removed by stop.
	Removed bool `json:"removed,omitempty"`
	// Left says the plan's release folder is still there, not current.
	Left  bool   `json:"left,omitempty"`
	Error string `json:"error,omitempty"`
}

// cmdStop stops the `pipbake install -f PLAN` running on this machine
// (what the Packer provisioner runs, through the communicator, when a
// build is cancelled): SIGTERM, on which an install that has not switched
// yet stops before the switch and removes its new release; after --wait,
// SIGKILL, and then stop removes that release itself (unless it is
// current). It then prints each set's current release.
var stopHelp = commandHelp{
	name:    "stop",
	does:    "stop the pipbake install -f PLAN running on this machine and say where each set's current points",
	forms:   []string{"--plan FILE [--wait 30s] [--json]"},
	example: "pipbake stop --plan /tmp/pipbake/pipbake.hcl --wait 10s",
	more: `The install gets SIGTERM, on which it stops before its switch and removes
its new release; after --wait it is killed and stop removes that release.`,
}

func cmdStop(_ context.Context, s stdio, args []string) error {
	fs := stopHelp.flags(s)
	planFile := fs.String("plan", "", "the plan `file` the install to stop was started with (pipbake install -f FILE)")
	wait := fs.Duration("wait", 30*time.Second, "how long to let the install stop by itself before killing it")
	asJSON := fs.Bool("json", false, "print the state as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *planFile == "" {
		return usageErr("stop: --plan is required")
	}
	pl, err := plan.Load(*planFile)
	if err != nil {
		return err
	}
	st := &StopState{Release: pl.Release, Stopped: []int{}, Killed: []int{}}
	pids, err := findInstalls(*planFile)
	if err != nil {
		return fmt.Errorf("stop: find the install of %s: %w", *planFile, err)
	}
	for _, pid := range pids {
		if terminate(pid) == nil {
			st.Stopped = append(st.Stopped, pid)
		}
	}
	deadline := time.Now().Add(*wait)
	for _, pid := range st.Stopped {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if running(pid) {
			// Its bytecode workers die with it (their parent-death signal).
			_ = kill(pid)
			st.Killed = append(st.Killed, pid)
		}
	}
	for _, pid := range st.Killed {
		for i := 0; running(pid) && i < 250; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, s := range pl.Sets {
		ss := SetState{Name: s.Name, Root: s.Root}
		if err := setState(&ss, s.Root, pl.Release, len(st.Killed) > 0); err != nil {
			ss.Error = err.Error()
		}
		st.Sets = append(st.Sets, ss)
	}
	if *asJSON {
		return printJSON(s.stdout, st)
	}
	for _, ss := range st.Sets {
		switch {
		case ss.Error != "":
			fmt.Fprintf(s.stdout, "%s: %s\n", ss.Name, ss.Error)
		case ss.Current == "":
			fmt.Fprintf(s.stdout, "%s: no current release in %s\n", ss.Name, ss.Root)
		default:
			fmt.Fprintf(s.stdout, "%s: current is %s in %s (switched: %v)\n", ss.Name, ss.Current, ss.Root, ss.Switched)
		}
	}
	return nil
}

// setState reads where a set's current points; after a killed install it
// also removes the plan's release when that is not current (what the
// install would have done had it stopped by itself).
func setState(ss *SetState, dir, id string, killed bool) error {
	root, err := release.Open(dir)
	if err != nil {
		return err
	}
	if killed && id != "" && release.ValidID(id) == nil {
		if _, err := os.Stat(root.Path(id)); err == nil {
			unlock, err := root.Lock()
			if err != nil {
				return err
			}
			cur, cerr := root.Current()
			if cerr == nil && cur != id {
				if err := root.Abort(id); err != nil {
					unlock()
					return fmt.Errorf("remove the release %s left by the killed install: %w", root.Path(id), err)
				}
				ss.Removed = true
			}
			unlock()
		}
	}
	cur, err := root.Current()
	if err != nil {
		return err
	}
	ss.Current = cur
	ss.Switched = cur != "" && cur == id
	if !ss.Switched && id != "" && release.ValidID(id) == nil {
		_, err := os.Lstat(root.Path(id))
		ss.Left = err == nil
	}
	return nil
}

// samePlan reports whether arg names the plan file (as given, or the same
// file).
func samePlan(arg, planFile string) bool {
	if filepath.Clean(arg) == filepath.Clean(planFile) {
		return true
	}
	a, err1 := os.Stat(arg)
	b, err2 := os.Stat(planFile)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
