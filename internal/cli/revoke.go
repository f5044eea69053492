//go:build !pipbake_agent

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/registry"
)

var revokeHelp = commandHelp{
	name: "revoke",
	does: "mark a release bad: promote refuses it (unless --force), rollback passes over it, images shows it, prune deletes it first",
	forms: []string{
		"--family F --release ID --reason TEXT [--region R ...] [--dry-run] [--json]",
		"--repo REF --release ID|sha256:... --reason TEXT [--family F] [--dry-run] [--json]",
	},
	example: `pipbake revoke --family api-node --release 2026.11.26 --reason "CVE-2026-1234 in flask"`,
}

var unrevokeHelp = commandHelp{
	name: "unrevoke",
	does: "take back a release's revocation: promote and rollback choose it again",
	forms: []string{
		"--family F --release ID [--region R ...] [--dry-run] [--json]",
		"--repo REF --release ID|sha256:... [--family F] [--dry-run] [--json]",
	},
	example: "pipbake unrevoke --family api-node --release 2026.11.26",
}

func cmdRevoke(ctx context.Context, s stdio, args []string) error {
	return runRevoke(ctx, s, revokeHelp, args)
}

func cmdUnrevoke(ctx context.Context, s stdio, args []string) error {
	return runRevoke(ctx, s, unrevokeHelp, args)
}

func runRevoke(ctx context.Context, s stdio, h commandHelp, args []string) error {
	out := s.stdout
	action := h.name
	fs := h.flags(s)
	var af awsFlags
	af.add(fs.FlagSet, true)
	family := fs.String("family", "", "the release's `family` (pipbake:family)")
	rel := fs.String("release", "", "the release `id` (with --repo also a digest sha256:...)")
	repo := fs.String("repo", "", "a registry `repository` (host/path) instead of AMIs")
	reason := fs.String("reason", "", "why the release is bad (revoke; 1 to 256 characters)")
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *rel == "":
		return usageErr("%s: --release is required", action)
	case action == "revoke" && *reason == "":
		return usageErr("revoke: --reason is required: say why the release is bad")
	case action == "unrevoke" && *reason != "":
		return usageErr("unrevoke: --reason is revoke's")
	case *repo == "" && *family == "":
		return usageErr("%s: --family (AMIs) or --repo is required", action)
	}
	if action == "revoke" {
		if _, err := catalog.NewRevocation(*reason, time.Now()); err != nil {
			return usageErr("%v", err)
		}
	}
	if *repo == "" {
		if err := catalog.ValidFamily(*family); err != nil {
			return usageErr("%s: %v", action, err)
		}
	}
	if *repo != "" {
		return revokeInRegistry(ctx, out, action, *repo, *rel, *family, *reason, *dryRun, *asJSON)
	}
	regions := []string(af.regions)
	if len(regions) == 0 {
		regions = []string{""}
	}
	type planned struct {
		c *amazon.Catalog
		p *amazon.RevokePlan
	}
	var plans []planned
	images := 0
	for _, r := range regions {
		c, err := af.catalog(ctx, r)
		if err != nil {
			return err
		}
		var p *amazon.RevokePlan
		if action == "revoke" {
			p, err = c.PlanRevoke(ctx, *family, *rel, *reason)
		} else {
			p, err = c.PlanUnrevoke(ctx, *family, *rel)
		}
		if err != nil {
			return err
		}
		plans = append(plans, planned{c, p})
		images += len(p.Images)
	}
	if *asJSON {
		list := make([]*amazon.RevokePlan, len(plans))
		for i, pl := range plans {
			list[i] = pl.p
		}
		if err := printJSON(out, list); err != nil {
			return err
		}
	} else {
		for _, pl := range plans {
			fmt.Fprint(out, pl.p.String())
		}
	}
	if images == 0 && action == "revoke" {
		return fmt.Errorf("refused, nothing was changed: revoke %s@%s: no image of the release in %s", *family, *rel, regionList(plans[0].c.Region, regions))
	}
	if *dryRun {
		if !*asJSON {
			fmt.Fprintln(out, "dry run: nothing was changed")
		}
		return nil
	}
	var done []string
	for _, pl := range plans {
		if err := pl.c.ExecuteRevoke(ctx, pl.p); err != nil {
			if len(done) > 0 {
				return fmt.Errorf("%w\n  done: %s", err, strings.Join(done, "; "))
			}
			return err
		}
		if len(pl.p.Images) > 0 {
			done = append(done, fmt.Sprintf("%d image(s) in %s", len(pl.p.Images), pl.p.Region))
		}
	}
	if !*asJSON {
		fmt.Fprintf(out, "%s: %s@%s: %s\n", action, *family, *rel, listOr(done, "nothing to do"))
	}
	return nil
}

func regionList(first string, regions []string) string {
	if len(regions) == 1 {
		return first
	}
	return strings.Join(regions, ", ")
}

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, "; ")
}

func revokeInRegistry(ctx context.Context, out io.Writer, action, repo, rel, family, reason string, dryRun, asJSON bool) error {
	c, err := registryCatalog(ctx, repo)
	if err != nil {
		return usageErr("%s: %v", action, err)
	}
	var p *registry.RevokePlan
	if action == "revoke" {
		p, err = c.PlanRevoke(ctx, rel, family, reason, time.Now())
	} else {
		p, err = c.PlanUnrevoke(ctx, rel, family, time.Now())
	}
	if err != nil {
		var r *registry.Refusal
		if errors.As(err, &r) {
			return fmt.Errorf("refused, nothing was changed: %w", err)
		}
		return err
	}
	if asJSON {
		if err := printJSON(out, p); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, p.String())
	}
	if dryRun {
		if !asJSON {
			fmt.Fprintln(out, "dry run: nothing was changed")
		}
		return nil
	}
	if err := c.ExecuteRevoke(ctx, p); err != nil {
		return err
	}
	if !asJSON && !p.Noop {
		fmt.Fprintf(out, "%s: %s in %s\n", action, p.Image.Label(), p.Repo)
	}
	return nil
}
