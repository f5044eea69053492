//go:build !pipbake_agent

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/inspect"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

const inspectUsage = `pipbake inspect: say what a baked image or release holds

Usage:
  pipbake inspect IMAGE-REF [--platform OS/ARCH] [--insecure-registry HOST] [--json]   # in a registry
  pipbake inspect oci-layout:DIR[@sha256:...] [--json]
  pipbake inspect AMI-ID [--region R] [--profile P] [--endpoint-url URL] [--json]
  pipbake inspect RELEASE-DIR [--json]          # <root>/releases/<id>, or a root (its current release)

Example:
  pipbake inspect registry.example.com/web/app:r42

Prints the family, release, sets and their distributions with versions,
the base, and the lock and receipt digests. An OCI image is read from its
annotations, labels and the receipts and SBOMs in its pipbake layers (the
base's layers are not pulled), and the receipts are checked against the
labels. An AMI is read from its tags only. Exit status: 0, 1 on error, 2
on a usage error.

Flags:
`

func cmdInspect(ctx context.Context, args []string) error {
	fs := newFlags("inspect")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), inspectUsage)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the report as JSON")
	platform := fs.String("platform", "", "the image to read from a multi-platform index, `os/arch` (default linux/amd64)")
	var insecure listFlag
	fs.Var(&insecure, "insecure-registry", "a registry `host[:port]` reached over plain HTTP; repeat for several")
	region := fs.String("region", "", "AMI: the AWS `region` (default: the AWS configuration's)")
	profile := fs.String("profile", "", "AMI: the AWS `profile`")
	endpoint := fs.String("endpoint-url", "", "AMI: the EC2 endpoint `URL` (default: AWS_ENDPOINT_URL, else AWS)")
	// The reference may come before, between or after the flags.
	var refs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return &exitError{code: 0}
			}
			return &exitError{code: 2, err: err}
		}
		if fs.NArg() == 0 {
			break
		}
		refs = append(refs, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	usage := func(format string, a ...any) error {
		return &exitError{code: 2, err: fmt.Errorf("inspect: "+format, a...)}
	}
	switch len(refs) {
	case 0:
		return usage("name an image, oci-layout:DIR, AMI id or release folder")
	case 1:
	default:
		return usage("one thing at a time (got %q and %q)", refs[0], refs[1])
	}
	ref := refs[0]
	o := inspect.Options{Insecure: insecure, AWS: amazon.Options{Region: *region, Profile: *profile, Endpoint: *endpoint}}
	if *platform != "" {
		p, err := ociimage.ParsePlatform(*platform)
		if err != nil {
			return usage("--platform: %v", err)
		}
		o.Platform = &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	}
	rep, err := inspect.Inspect(ctx, ref, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return inspect.Print(os.Stdout, rep)
}
