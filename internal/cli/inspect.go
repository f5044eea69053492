//go:build !pipbake_agent

package cli

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/inspect"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

var inspectHelp = commandHelp{
	name: "inspect",
	does: "say what a baked image or release holds",
	forms: []string{
		"IMAGE-REF [--platform OS/ARCH] [--insecure-registry HOST] [--json]   an image in a registry",
		"oci-layout:DIR[@sha256:...] [--json]",
		"AMI-ID [--region R] [--profile P] [--endpoint-url URL] [--json]",
		"RELEASE-DIR [--json]          <root>/releases/<id>, or a root (its current release)",
	},
	example: "pipbake inspect registry.example.com/web/app:r42",
	more: `Prints the family, release, sets and their distributions with versions,
the base, and the lock and receipt digests. An OCI image is read from its
annotations, labels and the receipts and SBOMs in its pipbake layers (the
base's layers are not pulled), and the receipts are checked against the
labels. An AMI is read from its tags only. Exit status: 0, 1 on error, 2
on a usage error.`,
}

func cmdInspect(ctx context.Context, s stdio, args []string) error {
	fs := inspectHelp.flags(s)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	platform := fs.String("platform", "", "the image to read from a multi-platform index, `os/arch` (default linux/amd64)")
	var insecure listFlag
	fs.Var(&insecure, "insecure-registry", "a registry `host[:port]` reached over plain HTTP; repeat for several")
	region := fs.String("region", "", "AMI: the AWS `region` (default: the AWS configuration's)")
	profile := fs.String("profile", "", "AMI: the AWS `profile`")
	endpoint := fs.String("endpoint-url", "", "AMI: the EC2 endpoint `URL` (default: AWS_ENDPOINT_URL, else AWS)")
	// The reference may come before, between or after the flags.
	refs, err := fs.parseOperands(args)
	if err != nil {
		return err
	}
	usage := func(format string, a ...any) error { return usageErr("inspect: "+format, a...) }
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
		return printJSON(s.stdout, rep)
	}
	return inspect.Print(s.stdout, rep)
}
