package bake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/session"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
)

// A cancelled bake (Ctrl-C in packer build) must not say less than the
// truth: the agent may be installing on the machine. Packer gives a
// provisioner no time after a cancel (the build step returns at once and
// the plugins, communicator included, are shut down), so:
//
//   - the agent stops by itself: run with --session-stdin, it cancels its
//     install once its stdin (internal/session) ends, which happens when
//     the provision's context does or the connection dies, and with
//     --session-staging it then removes what was put in the staging
//     folder;
//   - the agent switches current only after this side's Go, which is never
//     sent once the context is cancelled: Run knows, without asking the
//     machine, whether the switch happened, and says so at once (with
//     where each set's current pointed at the start, read when the machine
//     was probed);
//   - then, should the communicator still work (other hosts than Packer,
//     or Packer being slow to shut down), `pipbake stop --plan PLAN` is run
//     through it: it finds the install by its binary and plan, sends it
//     SIGTERM, waits for it to remove its new release and exit (kills it
//     after 30s and removes the release itself), and reports where each
//     set's current points; the staging folder is removed after that.

// stopTimeout bounds `pipbake stop` after a cancel; cleanupTimeout the
// other commands.
const (
	stopTimeout    = time.Minute
	cleanupTimeout = 2 * time.Minute
)

// CancelError is Run's error when its context was cancelled. State says
// what state the machine is in; it unwraps to the context's error.
type CancelError struct {
	State string
	Err   error
}

func (e *CancelError) Error() string { return e.State }
func (e *CancelError) Unwrap() error { return e.Err }

// planPath is the plan's path on the machine.
func planPath(opts Options) string { return opts.Staging + "/" + planName }

// agentCommand renders the command that runs the uploaded agent with args
// (execute_command, or the agent directly).
func agentCommand(opts Options, args ...string) (string, error) {
	agentPath := opts.Staging + "/pipbake"
	joined := shell.Join(args...)
	if opts.Command != nil {
		return opts.Command(agentPath, joined)
	}
	return "chmod +x " + shell.Quote(agentPath) + " && " + shell.Quote(agentPath) + " " + joined, nil
}

// stopState is the JSON `pipbake stop --json` prints (cli.StopState).
type stopState struct {
	Stopped []int     `json:"stopped"`
	Killed  []int     `json:"killed"`
	Release string    `json:"release"`
	Sets    []stopSet `json:"sets"`
}

type stopSet struct {
	Name     string `json:"name"`
	Root     string `json:"root"`
	Current  string `json:"current"`
	Switched bool   `json:"switched"`
	Removed  bool   `json:"removed"`
	Left     bool   `json:"left"`
	Error    string `json:"error"`
}

// stopAgent stops the agent on the machine and describes the state it
// left, or returns "" when that could not be done (the communicator is
// gone, typically).
func stopAgent(ctx context.Context, r Remote, opts Options) string {
	command, err := agentCommand(opts, "stop", "--plan", planPath(opts), "--json")
	if err != nil {
		return ""
	}
	var stdout, stderr bytes.Buffer
	code, err := r.Run(ctx, command, nil, &stdout, &stderr)
	var st stopState
	if err != nil || code != 0 || json.Unmarshal(stdout.Bytes(), &st) != nil {
		return ""
	}
	return describeStop(&st, opts.Release)
}

// currentsText lists where each set's current pointed when the machine
// was probed.
func currentsText(opts Options, currents map[string]string, verb string) string {
	var parts []string
	for _, s := range opts.Sets {
		link := strings.TrimSuffix(s.Root, "/") + "/current"
		if cur := currents[s.Name]; cur != "" {
			parts = append(parts, fmt.Sprintf("%s: current %s %s (%s)", s.Name, verb, cur, link))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %s does not exist", s.Name, link))
		}
	}
	return strings.Join(parts, "; ")
}

// announce says, as the agent's session reaches each state, what a
// cancel would leave: it is in the output before any cancel, which
// Packer may not let this side report.
func announce(opts Options, currents map[string]string) func(session.State) {
	return func(st session.State) {
		switch st {
		case session.Waiting:
			opts.logf("pipbake: until the switch, cancelling this build leaves every set's current release as it is (%s): pipbake on the machine then stops, removing release %s and the staging folder", currentsText(opts, currents, "points at"), opts.Release)
		case session.Granted:
			opts.logf("pipbake: every set is staged: telling pipbake on the machine to switch current to release %s", opts.Release)
		}
	}
}

// cancelState says what state a cancelled bake left the machine in, from
// what Run knows without asking it: whether the agent ran, and what its
// session says of the switch.
func cancelState(opts Options, host *session.Host, currents map[string]string) string {
	if host == nil {
		return "cancelled before pipbake ran on the machine: nothing was installed, every set's current release is as it was (" + currentsText(opts, currents, "still points at") + ")"
	}
	switch host.State() {
	case session.Waiting:
		return fmt.Sprintf("cancelled before the switch: pipbake on the machine stops without switching and removes release %s; every set's current release is as it was (%s)", opts.Release, currentsText(opts, currents, "still points at"))
	case session.Granted:
		return fmt.Sprintf("cancelled after the switch: pipbake on the machine had been told to switch every set's current to release %s (it has, unless the connection dropped at that very moment)", opts.Release)
	}
	return fmt.Sprintf("cancelled while pipbake ran on the machine, which could not be told (the communicator does not forward its stdin, or its output); whether it switched current to release %s is unknown: check each set's current there", opts.Release)
}

// describeStop turns stop's report into one message.
func describeStop(st *stopState, id string) string {
	switched, failed := 0, 0
	var parts, left []string
	for _, s := range st.Sets {
		if s.Left {
			left = append(left, strings.TrimSuffix(s.Root, "/")+"/releases/"+id)
		}
		link := strings.TrimSuffix(s.Root, "/") + "/current"
		switch {
		case s.Error != "":
			failed++
			parts = append(parts, fmt.Sprintf("%s: %s", s.Name, s.Error))
		case s.Switched:
			switched++
			parts = append(parts, fmt.Sprintf("%s: the switch had happened, %s points at releases/%s", s.Name, link, s.Current))
		case s.Current == "":
			parts = append(parts, fmt.Sprintf("%s: %s still does not exist", s.Name, link))
		default:
			parts = append(parts, fmt.Sprintf("%s: current still points at releases/%s (%s)", s.Name, s.Current, link))
		}
	}
	var head string
	switch {
	case failed > 0:
		head = "cancelled; the state of some sets is unknown"
	case switched == 0 && len(left) == 0:
		head = fmt.Sprintf("cancelled before the switch: every set's current release is as it was, and release %s was removed", id)
	case switched == 0:
		head = fmt.Sprintf("cancelled before the switch: every set's current release is as it was; release %s was left in %s (the next install removes it)", id, strings.Join(left, ", "))
	case switched == len(st.Sets):
		head = fmt.Sprintf("cancelled after the switch: release %s is current in every set", id)
	default:
		head = fmt.Sprintf("cancelled during the switch: release %s is current in %d of %d sets", id, switched, len(st.Sets))
	}
	switch {
	case len(st.Killed) > 0:
		head += fmt.Sprintf(" (pipbake did not stop within 30s and was killed: pid %v)", st.Killed)
	case len(st.Stopped) > 0:
		head += fmt.Sprintf(" (pipbake, pid %v, stopped)", st.Stopped)
	}
	return head + "; " + strings.Join(parts, "; ")
}

// ctxReader fails reads once ctx is done, so an upload stops on cancel.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
