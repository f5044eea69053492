//go:build !pipbake_agent

package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
)

var cacheHelp = commandHelp{
	name:     "cache",
	does:     "show the size of the bytecode cache (or, with --npm, the npm store), or prune it to a size",
	forms:    []string{"size [--npm] [--dir DIR] [--json]", "prune --max-size SIZE [--npm] [--dir DIR] [--json]"},
	example:  "pipbake cache prune --max-size 2GB",
	more:     "installs copy .pyc files from the bytecode cache and lay Node packages out from the npm store. prune removes the least recently used entries (or packages) until the cache holds at most --max-size.",
	operands: []string{"prune", "size"},
}

// cmdCache is `pipbake cache prune|size`: the bytecode cache installs
// copy .pyc files from.
func cmdCache(_ context.Context, s stdio, args []string) error {
	fs := cacheHelp.flags(s)
	dirFlag := fs.String("dir", "", "the bytecode cache `folder` (default $"+pyccache.Env+", else ~/.cache/pipbake/bytecode), or with --npm the npm store's (default $"+npmstore.Env+", else ~/.cache/pipbake/npm)")
	npm := fs.Bool("npm", false, "the store of unpacked npm packages instead of the bytecode cache")
	maxSize := fs.String("max-size", "", "prune: keep at most this `size` of entries (2GB, 500MiB, bytes)")
	asJSON := fs.Bool("json", false, "print the sizes as JSON")
	operands, err := fs.parseOperands(args)
	if err != nil {
		return err
	}
	if len(operands) != 1 || (operands[0] != "prune" && operands[0] != "size") {
		return usageErr("cache: want `pipbake cache size` or `pipbake cache prune --max-size SIZE`")
	}
	sub := operands[0]
	if sub == "size" && *maxSize != "" {
		return usageErr("cache size: --max-size goes with prune")
	}
	if *npm {
		return npmCache(s, sub, *dirFlag, *maxSize, *asJSON)
	}
	dir := pyccache.Dir(*dirFlag)
	if dir == "" {
		return usageErr("cache: no bytecode cache folder (it is off, or there is no user cache folder): give --dir")
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("bytecode cache: %w", err)
	}
	if sub == "size" {
		u, err := pyccache.Measure(dir)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(s.stdout, map[string]any{"dir": dir, "usage": u})
		}
		fmt.Fprintf(s.stdout, "bytecode cache %s: %s\n", dir, describeUsage(u))
		return nil
	}
	if *maxSize == "" {
		return usageErr("cache prune: --max-size is required (e.g. --max-size 2GB)")
	}
	limit, err := pyccache.ParseSize(*maxSize)
	if err != nil {
		return usageErr("cache prune: --max-size: %w", err)
	}
	before, after, err := pyccache.Prune(dir, limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(s.stdout, map[string]any{"dir": dir, "before": before, "after": after})
	}
	fmt.Fprintf(s.stdout, "bytecode cache %s: %s; pruned to %s (%s, %s removed)\n", dir, describeUsage(before), describeUsage(after),
		countEntries(before.Entries-after.Entries, before.WheelPacks-after.WheelPacks), pyccache.FormatSize(before.Bytes-after.Bytes))
	return nil
}

func describeUsage(u pyccache.Usage) string {
	s := countEntries(u.Entries, u.WheelPacks) + ", " + pyccache.FormatSize(u.Bytes)
	if u.Packs > 0 {
		s += fmt.Sprintf(" (and %d packs, %s)", u.Packs, pyccache.FormatSize(u.PackBytes))
	}
	return s
}

// countEntries says how many loose entries and wheel packs there are.
func countEntries(entries, wheelPacks int) string {
	s := fmt.Sprintf("%d entries", entries)
	switch wheelPacks {
	case 0:
	case 1:
		s += " and 1 wheel pack"
	default:
		s += fmt.Sprintf(" and %d wheel packs", wheelPacks)
	}
	return s
}

// npmCache is `pipbake cache size|prune --npm`: the store of unpacked npm
// packages.
func npmCache(s stdio, sub, dirFlag, maxSize string, asJSON bool) error {
	dir := npmstore.Dir(dirFlag)
	if dir == "" {
		return usageErr("cache: no npm store folder (it is off, or there is no user cache folder): give --dir")
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("npm store: %w", err)
	}
	describe := func(u npmstore.Usage) string {
		return fmt.Sprintf("%d packages, %s", u.Packages, pyccache.FormatSize(u.Bytes))
	}
	if sub == "size" {
		u, err := npmstore.Measure(dir)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(s.stdout, map[string]any{"dir": dir, "usage": u})
		}
		fmt.Fprintf(s.stdout, "npm store %s: %s\n", dir, describe(u))
		return nil
	}
	if maxSize == "" {
		return usageErr("cache prune: --max-size is required (e.g. --max-size 2GB)")
	}
	limit, err := pyccache.ParseSize(maxSize)
	if err != nil {
		return usageErr("cache prune: --max-size: %w", err)
	}
	before, after, err := npmstore.Prune(dir, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(s.stdout, map[string]any{"dir": dir, "before": before, "after": after})
	}
	fmt.Fprintf(s.stdout, "npm store %s: %s; pruned to %s (%d packages, %s removed)\n", dir, describe(before), describe(after),
		before.Packages-after.Packages, pyccache.FormatSize(before.Bytes-after.Bytes))
	return nil
}
