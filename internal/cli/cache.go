//go:build !pipbake_agent

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
)

func init() { fullCommands["cache"] = cmdCache }

// cmdCache is `pipbake cache prune|size`: the bytecode cache installs
// copy .pyc files from.
func cmdCache(_ context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "prune" && args[0] != "size") {
		return &exitError{code: 2, err: errors.New("cache: want `pipbake cache prune --max-size SIZE [--dir DIR]` or `pipbake cache size [--dir DIR]`")}
	}
	sub := args[0]
	h := commandHelp{name: "cache " + sub, forms: []string{"[--dir DIR] [--json]"}}
	switch sub {
	case "prune":
		h.does = "remove the least recently used entries of the bytecode cache until it holds at most --max-size"
		h.forms = []string{"--max-size SIZE [--dir DIR] [--json]"}
		h.example = "pipbake cache prune --max-size 2GB"
	case "size":
		h.does = "say how much the bytecode cache holds"
		h.example = "pipbake cache size"
	}
	fs := h.flags()
	dirFlag := fs.String("dir", "", "the bytecode cache `folder` (default $"+pyccache.Env+", else ~/.cache/pipbake/bytecode)")
	maxSize := fs.String("max-size", "", "prune: keep at most this `size` of entries (2GB, 500MiB, bytes)")
	asJSON := fs.Bool("json", false, "print the sizes as JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	dir := pyccache.Dir(*dirFlag)
	if dir == "" {
		return &exitError{code: 2, err: errors.New("cache: no bytecode cache folder (it is off, or there is no user cache folder): give --dir")}
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
			return writeJSON(map[string]any{"dir": dir, "usage": u})
		}
		fmt.Fprintf(out, "bytecode cache %s: %s\n", dir, describeUsage(u))
		return nil
	}
	if *maxSize == "" {
		return &exitError{code: 2, err: errors.New("cache prune: --max-size is required (e.g. --max-size 2GB)")}
	}
	limit, err := pyccache.ParseSize(*maxSize)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("cache prune: --max-size: %w", err)}
	}
	before, after, err := pyccache.Prune(dir, limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(map[string]any{"dir": dir, "before": before, "after": after})
	}
	fmt.Fprintf(out, "bytecode cache %s: %s; pruned to %s (%d entries, %s removed)\n", dir, describeUsage(before), describeUsage(after),
		before.Entries-after.Entries, pyccache.FormatSize(before.Bytes-after.Bytes))
	return nil
}

func describeUsage(u pyccache.Usage) string {
	s := fmt.Sprintf("%d entries, %s", u.Entries, pyccache.FormatSize(u.Bytes))
	if u.Packs > 0 {
		s += fmt.Sprintf(" (and %d packs, %s)", u.Packs, pyccache.FormatSize(u.PackBytes))
	}
	return s
}

func writeJSON(v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
