package cli

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"text/tabwriter"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
)

var verifyHelp = commandHelp{
	name:    "verify",
	does:    "check a release's files against its receipt: exit 0 intact, 1 drifted, 2 error",
	forms:   []string{"--root DIR [--release ID] [--receipt-sha256 HEX] [--json]"},
	example: "pipbake verify --root /opt/api",
}

func cmdVerify(_ context.Context, s stdio, args []string) error {
	fs := withVariants(verifyHelp).flags(s)
	root := fs.String("root", "", "release root `folder`")
	rel := fs.String("release", "", "verify this release `id` instead of current")
	receiptSHA := fs.String("receipt-sha256", "", "the receipt's sha256 as recorded outside the release (`hex`; a one-set image's pipbake:receipt-sha256 tag)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *root == "" {
		return usageErr("verify: --root is required")
	}
	r, err := release.Open(*root)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	id := *rel
	if id == "" {
		if id, err = r.Current(); err != nil {
			return &exitError{code: 2, err: err}
		}
		if id == "" {
			return &exitError{code: 2, err: fmt.Errorf("verify: %s has no current release", r.Dir)}
		}
	}
	var rep *receipt.Report
	if _, err := os.Lstat(r.Path(id)); errors.Is(err, iofs.ErrNotExist) && *rel == "" {
		// current points at a release that is gone: drift, not an error
		rep = &receipt.Report{Release: id, Path: r.Path(id), Problems: []receipt.Problem{{Path: ".", Kind: receipt.Missing,
			Detail: fmt.Sprintf("current points at releases/%s, which does not exist", id)}}}
	} else if rep, err = receipt.Verify(r.Path(id), receipt.Options{ReceiptSHA256: *receiptSHA}); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify release %s in %s: %w", id, r.Dir, err)}
	}
	if *asJSON {
		if err := printJSON(s.stdout, rep); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(s.stdout, "%-10s %s  (%s)\n", p.Kind, p.Path, p.Detail)
		}
		if rep.Clean() {
			fmt.Fprintf(s.stdout, "%s: release %s is intact (%d files checked)\n", r.Dir, id, rep.Checked)
		} else {
			fmt.Fprintf(s.stdout, "%s: release %s has drifted: %d problems in %d files checked\n", r.Dir, id, len(rep.Problems), rep.Checked)
		}
	}
	if !rep.Clean() {
		return &exitError{code: 1}
	}
	return nil
}

type releaseInfo struct {
	ID      string `json:"id"`
	Path    string `json:"path"`
	Current bool   `json:"current"`
	Set     string `json:"set,omitempty"`
	Created string `json:"created,omitempty"`
	Python  string `json:"python,omitempty"`
	// Node is a Node set's node version (Python is then empty).
	Node          string `json:"node,omitempty"`
	Distributions int    `json:"distributions"`
	LockSHA256    string `json:"lock_sha256,omitempty"`
}

var releasesHelp = commandHelp{
	name:    "releases",
	does:    "list the releases of a release root, oldest first, current marked *",
	forms:   []string{"--root DIR [--json]"},
	example: "pipbake releases --root /opt/api",
}

func cmdReleases(_ context.Context, s stdio, args []string) error {
	fs := withVariants(releasesHelp).flags(s)
	root := fs.String("root", "", "release root `folder`")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *root == "" {
		return usageErr("releases: --root is required")
	}
	r, err := release.Open(*root)
	if err != nil {
		return err
	}
	list, err := r.List()
	if err != nil {
		return err
	}
	infos := []releaseInfo{}
	for _, rel := range list {
		info := releaseInfo{ID: rel.ID, Path: rel.Path, Current: rel.Current}
		if rc, err := receipt.Read(rel.Path); err == nil {
			info.Set, info.Created, info.Python = rc.Set, rc.Created.Format("2006-01-02T15:04:05Z"), rc.Interpreter.Version
			if rc.Runtime() == "node" {
				info.Python, info.Node = "", rc.Interpreter.Version
			}
			info.Distributions, info.LockSHA256 = len(rc.Distributions), rc.Lock.SHA256
		}
		infos = append(infos, info)
	}
	if *asJSON {
		return printJSON(s.stdout, infos)
	}
	if len(infos) == 0 {
		fmt.Fprintf(s.stdout, "%s: no releases\n", r.Dir)
		return nil
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tRELEASE\tCREATED\tRUNTIME\tPACKAGES\tLOCK")
	for _, i := range infos {
		mark := ""
		if i.Current {
			mark = "*"
		}
		lockHash := i.LockSHA256
		if len(lockHash) > 12 {
			lockHash = lockHash[:12]
		}
		rt := i.Python
		if i.Node != "" {
			rt = "node " + i.Node
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", mark, i.ID, i.Created, rt, i.Distributions, lockHash)
	}
	return tw.Flush()
}

var rollbackHelp = commandHelp{
	name:    "rollback",
	does:    "switch back to an earlier release: of a release root, hosts (--host), a group (--asg) or a tag (--repo)",
	forms:   []string{"--root DIR [--to ID] [--json]"},
	example: "pipbake rollback --root /opt/api --to 2026.11.20",
	more:    "Without --to, rollback goes back to the release before the current one.",
}

// rolledBack is what `rollback --root --json` prints.
type rolledBack struct {
	Root string `json:"root"`
	From string `json:"from"`
	To   string `json:"to"`
}

// cmdRollback is rollback of a release root on this machine; its variants
// (full.go) roll back hosts, groups and tags.
func cmdRollback(_ context.Context, s stdio, args []string) error {
	fs := withVariants(rollbackHelp).flags(s)
	root := fs.String("root", "", "release root `folder`")
	to := fs.String("to", "", "release `id` to switch to (default: the one before current)")
	asJSON := fs.Bool("json", false, "print the switch as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *root == "" {
		return usageErr("rollback: --root is required (other rollbacks: pipbake rollback --host, --asg or --repo)")
	}
	r, err := release.Open(*root)
	if err != nil {
		return err
	}
	unlock, err := r.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	from, dest, err := r.Rollback(*to)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(s.stdout, rolledBack{Root: r.Dir, From: from, To: dest})
	}
	fmt.Fprintf(s.stdout, "%s: current is now %s (was %s)\n", r.Dir, dest, from)
	return nil
}
