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

// verifyRemote runs `verify --image|--ami` and reports whether it did; set
// by verify_image.go in the full binary, nil in the lean agent.
var verifyRemote func(ctx context.Context, args []string) (bool, error)

func cmdVerify(ctx context.Context, args []string) error {
	if verifyRemote != nil {
		if done, err := verifyRemote(ctx, args); done {
			return err
		}
	}
	fs := newFlags("verify")
	root := fs.String("root", "", "release root `folder`")
	rel := fs.String("release", "", "verify this release `id` instead of current")
	receiptSHA := fs.String("receipt-sha256", "", "the receipt's sha256 as recorded outside the release (`hex`; a one-set image's pipbake:receipt-sha256 tag)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *root == "" {
		return &exitError{code: 2, err: fmt.Errorf("verify: --root is required")}
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
		if err := printJSON(rep); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Printf("%-10s %s  (%s)\n", p.Kind, p.Path, p.Detail)
		}
		if rep.Clean() {
			fmt.Printf("%s: release %s is intact (%d files checked)\n", r.Dir, id, rep.Checked)
		} else {
			fmt.Printf("%s: release %s has drifted: %d problems in %d files checked\n", r.Dir, id, len(rep.Problems), rep.Checked)
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

func cmdReleases(args []string) error {
	fs := newFlags("releases")
	root := fs.String("root", "", "release root `folder`")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *root == "" {
		return &exitError{code: 2, err: fmt.Errorf("releases: --root is required")}
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
		return printJSON(infos)
	}
	if len(infos) == 0 {
		fmt.Printf("%s: no releases\n", r.Dir)
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
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

func cmdRollback(args []string) error {
	fs := newFlags("rollback")
	root := fs.String("root", "", "release root `folder`")
	to := fs.String("to", "", "release `id` to switch to (default: the one before current)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *root == "" {
		return &exitError{code: 2, err: fmt.Errorf("rollback: --root is required (cloud rollbacks: pipbake rollback --asg)")}
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
	fmt.Printf("%s: current is now %s (was %s)\n", r.Dir, dest, from)
	return nil
}
