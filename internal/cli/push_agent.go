//go:build pipbake_agent

package cli

import "context"

// The lean agent has no SSH client: push and the fleet commands are the
// full binary's.
func cmdPush(context.Context, []string) error {
	return &exitError{code: 2, err: errNotInAgent("push")}
}

func hostCommand(context.Context, string, []string) (bool, error) { return false, nil }

type errNotInAgent string

func (e errNotInAgent) Error() string {
	return "pipbake " + string(e) + " is not in the agent build; use the pipbake command line"
}
