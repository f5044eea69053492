//go:build !pipbake_agent

package cli

import "context"

// fullCommands are the commands of the full pipbake binary beyond what the
// agent on a machine being baked needs. Building with -tags pipbake_agent
// leaves them (and the AWS, registry and OCI code they pull in) out: that
// lean build is the agent release builds embed.
var fullCommands = map[string]func(context.Context, []string) error{
	"fetch":    cmdFetch,
	"images":   cmdImages,
	"promote":  cmdPromote,
	"prune":    cmdPrune,
	"revoke":   cmdRevoke,
	"unrevoke": cmdUnrevoke,
	"diff":     cmdDiff,
	"demo":     cmdDemo,
	"lock":     cmdLock,
	"inspect":  cmdInspect,
}

// catalogRollback runs `rollback --asg|--repo` (the release catalog) and
// reports whether it did.
func catalogRollback(ctx context.Context, args []string) (bool, error) {
	if IsCatalogRollback(args) {
		return true, cmdCatalogRollback(ctx, args)
	}
	return false, nil
}
