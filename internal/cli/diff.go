//go:build !pipbake_agent

package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
)

var diffHelp = commandHelp{
	name: "diff",
	does: "what changes from release A to release B: sets and distributions added, removed, changed; locks; base",
	forms: []string{
		"RECEIPTS_A RECEIPTS_B [--json]                        receipt files or folders (<set>.json): offline",
		"AMI_A AMI_B [--receipts DIR] [--region R] [--json]     ami-... ids",
		"ID_A ID_B --family F [--receipts DIR] [--region R]     release ids of a family's AMIs",
		"IMAGE_A IMAGE_B [--json]                              image references (host/path:tag or @sha256:...)",
		"ID_A ID_B --repo REF [--family F] [--json]            release ids (or digests) of a repository",
	},
	example: "pipbake diff --family api-node 2026.11.20 2026.11.26 --receipts receipts/",
}

// Where a diff's facts come from: an AMI's tags give its sets and their
// versions, the sha256 of its locks and receipts, and its base; the
// distributions come from receipts (files the provisioner brought back,
// kept per release under --receipts DIR/<release>/, used only when their
// sha256 is the image's pipbake:receipt-sha256), or from the receipts in
// an OCI image's layers (checked the same way against its labels).
func cmdDiff(ctx context.Context, s stdio, args []string) error {
	fs := diffHelp.flags(s)
	var af awsFlags
	af.add(fs.FlagSet, false)
	family := fs.String("family", "", "the `family` whose releases A and B are (AMIs), or of --repo")
	repo := fs.String("repo", "", "a registry `repository` (host/path) whose releases A and B are")
	receipts := fs.String("receipts", "", "a `folder` of receipts per release (DIR/<release>/<set>.json) for AMIs' distributions")
	asJSON := fs.Bool("json", false, "print the diff and each side's facts as JSON")
	operands, err := fs.parseOperands(args)
	if err != nil {
		return err
	}
	if len(operands) != 2 {
		return usageErr("diff: give two releases, A and B (got %d: %s)", len(operands), quoteList(operands))
	}
	r := &diffResolver{af: af, family: *family, repo: *repo, receipts: *receipts}
	a, err := r.facts(ctx, operands[0])
	if err != nil {
		return err
	}
	b, err := r.facts(ctx, operands[1])
	if err != nil {
		return err
	}
	d := catalog.DiffFacts(a, b)
	if *asJSON {
		return printJSON(s.stdout, map[string]any{"from": a, "to": b, "diff": d})
	}
	fmt.Fprint(s.stdout, d.String())
	return nil
}

// diffResolver turns an operand into facts.
type diffResolver struct {
	af                     awsFlags
	family, repo, receipts string
	amazon                 *amazon.Catalog
}

func (r *diffResolver) catalog(ctx context.Context) (*amazon.Catalog, error) {
	if r.amazon == nil {
		c, err := r.af.catalog(ctx, r.af.region())
		if err != nil {
			return nil, err
		}
		r.amazon = c
	}
	return r.amazon, nil
}

// facts reads one operand: a path that exists is receipts (a <set>.json
// file, or a folder of them); ami-... an AMI; with --repo a release of the
// repository; host/path:tag an image; else a release of --family's AMIs.
func (r *diffResolver) facts(ctx context.Context, op string) (catalog.Facts, error) {
	if st, err := os.Stat(op); err == nil {
		return receiptFacts(op, st.IsDir(), r.family)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return catalog.Facts{}, fmt.Errorf("diff: %w", err)
	}
	switch {
	case strings.HasPrefix(op, "ami-"):
		c, err := r.catalog(ctx)
		if err != nil {
			return catalog.Facts{}, err
		}
		return c.ImageFacts(ctx, op, r.receipts)
	case r.repo != "":
		c, err := registryCatalog(ctx, r.repo)
		if err != nil {
			return catalog.Facts{}, usageErr("diff: %v", err)
		}
		return c.ReleaseFacts(ctx, op, r.family)
	case strings.Contains(op, "/"):
		return imageFacts(ctx, op)
	case r.family != "":
		c, err := r.catalog(ctx)
		if err != nil {
			return catalog.Facts{}, err
		}
		return c.ReleaseFacts(ctx, r.family, op, r.receipts)
	}
	return catalog.Facts{}, usageErr("diff: %q is no file or folder of receipts, no AMI id and no image reference; to name a release, give --family (AMIs) or --repo", op)
}

func receiptFacts(path string, dir bool, family string) (catalog.Facts, error) {
	var files []catalog.ReceiptFile
	if dir {
		fs, err := catalog.ReadReceipts(path)
		if err != nil {
			return catalog.Facts{}, fmt.Errorf("diff: %w", err)
		}
		files = fs
	} else {
		f, err := catalog.ReadReceiptFile(path)
		if err != nil {
			return catalog.Facts{}, fmt.Errorf("diff: %w", err)
		}
		files = []catalog.ReceiptFile{f}
	}
	return catalog.FactsFromReceipts(path, family, files)
}

// imageFacts reads an image reference: host/path:tag or host/path@sha256:...
func imageFacts(ctx context.Context, op string) (catalog.Facts, error) {
	ref, err := name.ParseReference(op)
	if err != nil {
		return catalog.Facts{}, usageErr("diff: image reference %q: %v", op, err)
	}
	c, err := registryCatalog(ctx, ref.Context().String())
	if err != nil {
		return catalog.Facts{}, usageErr("diff: %v", err)
	}
	return c.Facts(ctx, ref.Identifier())
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " ")
}
