//go:build !pipbake_agent

package cli

import "context"

// fullCommands are the commands of the full pipbake binary beyond what the
// agent on a machine being baked needs. Building with -tags pipbake_agent
// leaves them (and the AWS, registry and OCI code they pull in) out: that
// lean build is the agent release builds embed.
func fullCommands() []*command {
	return []*command{
		{help: lockHelp, run: cmdLock},
		{help: fetchHelp, run: cmdFetch},
		{help: imagesHelp, run: cmdImages},
		{help: promoteHelp, run: cmdPromote},
		{help: revokeHelp, run: cmdRevoke},
		{help: unrevokeHelp, run: cmdUnrevoke},
		{help: diffHelp, run: cmdDiff},
		{help: pruneHelp, run: cmdPrune},
		{help: inspectHelp, run: cmdInspect},
		{help: demoHelp, run: cmdDemo, helpArgs: [][]string{{"-h"}, {"--oci", "-h"}}},
	}
}

// catalogRollback runs `rollback --asg|--asg-tag|--repo` (the release
// catalog) and reports whether it did.
func catalogRollback(ctx context.Context, s stdio, args []string) (bool, error) {
	if IsCatalogRollback(args) {
		return true, cmdCatalogRollback(ctx, s, args)
	}
	return false, nil
}

// rollbackHelpArgs show both of rollback's flag sets.
func rollbackHelpArgs() [][]string { return [][]string{{"-h"}, {"--asg=x", "-h"}} }
