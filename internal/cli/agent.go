//go:build pipbake_agent

package cli

import "context"

// The lean agent build: install, verify, releases, local rollback, version.
var fullCommands = map[string]func(context.Context, []string) error{}

func catalogRollback(context.Context, []string) (bool, error) { return false, nil }
