//go:build !pipbake_agent

package cli

// fullCommands are the commands of the full pipbake binary beyond what the
// agent on a machine being baked needs. Building with -tags pipbake_agent
// leaves them (and the AWS, registry, SSH and OCI code they pull in) out:
// that lean build is the agent release builds embed.
func fullCommands() []*command {
	return []*command{
		{help: lockHelp, run: cmdLock},
		{help: fetchHelp, run: cmdFetch},
		{help: pushHelp, run: cmdPush},
		{help: imagesHelp, run: cmdImages},
		{help: promoteHelp, run: cmdPromote},
		{help: revokeHelp, run: cmdRevoke},
		{help: unrevokeHelp, run: cmdUnrevoke},
		{help: diffHelp, run: cmdDiff},
		{help: pruneHelp, run: cmdPrune},
		{help: inspectHelp, run: cmdInspect},
		{help: cacheHelp, run: cmdCache},
		{help: demoHelp, run: cmdDemo, helpArgs: [][]string{{"-h"}, {"--oci", "-h"}}},
	}
}

// variants are the full binary's other forms of the agent's commands:
// over SSH (--host, push.go), on the release catalog (--asg, --repo,
// catalog.go), from outside an image (--image, --ami, verify_image.go).
// The first that matches runs.
func variants(name string) []variant {
	switch name {
	case "releases":
		return []variant{hostReleases}
	case "rollback":
		return []variant{hostRollback, catalogRollback}
	case "verify":
		return []variant{remoteVerify}
	}
	return nil
}
