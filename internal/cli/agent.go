//go:build pipbake_agent

package cli

import "context"

// The lean agent build: install, verify, releases, local rollback, stop,
// version, help, completion.
func fullCommands() []*command { return nil }

func catalogRollback(context.Context, stdio, []string) (bool, error) { return false, nil }

var (
	catalogRollbackForms []string
	catalogRollbackFlags func(stdio) *flagSet
)

func rollbackHelpArgs() [][]string { return nil }
