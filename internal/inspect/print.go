package inspect

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// clean makes a string read from an image safe to print on a terminal:
// one quoted with Go escapes when it holds anything but printable
// characters and spaces.
func clean(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.Quote(s)
		}
	}
	return s
}

// Print writes the report for people.
func Print(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, clean(v))
		}
	}
	line(rep.Kind, rep.Ref)
	if rep.Digest != rep.Ref {
		line("digest", rep.Digest)
	}
	if a := rep.AMI; a != nil {
		line("name", a.Name)
		line("region", a.Region)
		line("architecture", a.Architecture)
		line("state", a.State)
		line("snapshots", strings.Join(a.Snapshots, ", "))
	}
	line("created", rep.Created)
	line("family", rep.Family)
	line("release", rep.Release)
	if b := rep.Base; b != nil {
		base := b.Name
		if base == "" {
			base = "(a local image)"
		}
		if b.Digest != "" {
			base += " " + b.Digest
		}
		line("base", base)
	}
	line("sets", rep.SetsTag)
	line("lock sha256", rep.LockSHA256)
	line("receipt sha256", rep.ReceiptSHA256)
	line("read from", rep.Source)
	if rep.Consistent != nil {
		if *rep.Consistent {
			line("checked", "the receipts agree with the tags")
		} else {
			line("checked", "the receipts DISAGREE with the tags (see the notes)")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Sets {
		fmt.Fprintf(w, "\nset %s", clean(s.Name))
		if s.Version != "" {
			fmt.Fprintf(w, " %s", clean(s.Version))
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		line("  release", s.Release)
		line("  root", s.Root)
		line("  created", s.Created)
		if s.Node != "" {
			line("  node", strings.TrimSpace(s.Node+" "+s.Platform))
		}
		if s.Python != "" {
			line("  python", strings.TrimSpace(s.Python+" "+s.Platform))
		}
		if s.Lock != nil {
			lk := s.Lock.Path
			if s.Lock.Format != "" {
				lk += " (" + s.Lock.Format + ")"
			}
			line("  lock", strings.TrimSpace(lk))
			line("  lock sha256", s.Lock.SHA256)
		}
		line("  receipt sha256", s.ReceiptSHA256)
		if s.Pipbake != "" {
			line("  installed by", strings.TrimSpace("pipbake "+s.Pipbake+" ("+s.Installer+")"))
		}
		if s.SBOMComponents >= 0 {
			line("  sbom", fmt.Sprintf("CycloneDX, %d components", s.SBOMComponents))
		}
		if len(s.Distributions) > 0 {
			what := "  distributions"
			if s.Ecosystem == receipt.EcosystemNode {
				what = "  packages"
			}
			line(what, strconv.Itoa(len(s.Distributions)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, d := range s.Distributions {
			fmt.Fprintf(tw, "    %s\t%s\n", clean(d.Name), clean(d.Version))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "note: %s\n", clean(n))
		}
	}
	return nil
}
