//go:build !pipbake_agent

package cli

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/ociattest"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// remoteVerify is verify from outside: `verify --image` (a registry's
// image against its attestations) and `verify --ami` (an AMI's tags
// against stored attestations). The lean agent has neither.
var remoteVerify = variant{
	match:   isRemoteVerify,
	run:     cmdVerifyRemote,
	forms:   remoteVerifyHelp.forms,
	heading: "Flags with --image or --ami",
	flags: func(s stdio) *flagSet {
		fs, _ := remoteVerifyFlagSet(s)
		return fs
	},
	helpArg: "--image=x",
}

var remoteVerifyHelp = commandHelp{
	name:    "verify",
	does:    "check an image or AMI against its signed attestations: exit 0 verified, 1 not, 2 error",
	forms:   []string{"--image REF --key PUB [--json]", "--ami ID --key PUB --attestations DIR [--region R] [--json]"},
	example: "pipbake verify --image registry.example.com/api:prod --key cosign.pub",
}

// isRemoteVerify reports whether verify's arguments name an image or AMI.
func isRemoteVerify(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name := strings.TrimLeft(a, "-")
		if a == name {
			continue
		}
		if k, _, _ := strings.Cut(name, "="); k == "image" || k == "ami" {
			return true
		}
	}
	return false
}

// remoteVerifyFlags are verify --image|--ami's flags.
type remoteVerifyFlags struct {
	image, ami, key, atts *string
	asJSON                *bool
	aws                   awsFlags
}

func remoteVerifyFlagSet(s stdio) (*flagSet, *remoteVerifyFlags) {
	fs := remoteVerifyHelp.flags(s)
	f := &remoteVerifyFlags{
		image:  fs.String("image", "", "verify the image `REF` in a registry against its attestations"),
		ami:    fs.String("ami", "", "verify the AMI `ID`'s tags against its stored attestations"),
		key:    fs.String("key", "", "the public `key` that signed the attestations (PEM, cosign.pub)"),
		atts:   fs.String("attestations", "", "AMI: the `folder` of signed attestations (the post-processor's receipts_dir/attestations)"),
		asJSON: fs.Bool("json", false, "print the report as JSON"),
	}
	f.aws.add(fs.FlagSet, false)
	return fs, f
}

func cmdVerifyRemote(ctx context.Context, s stdio, args []string) error {
	fs, f := remoteVerifyFlagSet(s)
	if err := fs.parse(args); err != nil {
		return err
	}
	if (*f.image == "") == (*f.ami == "") {
		return usageErr("verify: give --image REF or --ami ID")
	}
	if *f.key == "" {
		return usageErr("verify: --key is required with --image and --ami")
	}
	pub, err := attest.LoadPublicKey(*f.key)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify: %w", err)}
	}
	if *f.image != "" {
		return verifyImage(ctx, s, *f.image, pub, *f.asJSON)
	}
	if *f.atts == "" {
		return usageErr("verify --ami: --attestations DIR is required (the signed attestations the pipbake-release post-processor wrote)")
	}
	return verifyAMI(ctx, s, &f.aws, *f.ami, *f.atts, pub, *f.asJSON)
}

func verifyImage(ctx context.Context, s stdio, image string, pub *ecdsa.PublicKey, asJSON bool) error {
	ref, err := name.ParseReference(image)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify: image %q: %w", image, err)}
	}
	rep, err := ociattest.Verify(ctx, ref, pub, remote.WithAuthFromKeychain(ociimage.Keychain(ctx)))
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify %s: %w", image, err)}
	}
	if asJSON {
		if err := printJSON(s.stdout, rep); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(s.stdout, "%-10s %s  (%s)\n", p.Kind, p.Path, p.Detail)
		}
		for _, set := range rep.Sets {
			for _, p := range set.Problems {
				fmt.Fprintf(s.stdout, "%-10s %s: %s  (%s)\n", p.Kind, set.Set, p.Path, p.Detail)
			}
		}
		for _, ig := range rep.Ignored {
			fmt.Fprintf(s.stdout, "ignored    %s\n", ig)
		}
		if rep.Clean() {
			files := 0
			for _, set := range rep.Sets {
				files += set.Checked
			}
			fmt.Fprintf(s.stdout, "%s: signed attestations verified (%d, from %s); %d set layer(s) match their receipts and SBOMs (%d files checked)\n",
				rep.Image, rep.Verified, rep.Source, len(rep.Sets), files)
		} else {
			fmt.Fprintf(s.stdout, "%s: does NOT verify against its attestations and the key\n", rep.Image)
		}
	}
	if !rep.Clean() {
		return &exitError{code: 1}
	}
	return nil
}

// amiReport is what verify --ami found.
type amiReport struct {
	Image    string            `json:"image"`
	Region   string            `json:"region,omitempty"`
	Verified []string          `json:"verified"`
	Problems []receipt.Problem `json:"problems"`
}

// verifyAMI checks an AMI's tags against the signed attestations in dir:
// every envelope verifies with pub; the statements' digest manifest is
// the AMI's pipbake:attestation-sha256; their subjects (each set's receipt
// sha256) give the AMI's pipbake:receipt-sha256.
func verifyAMI(ctx context.Context, s stdio, aws *awsFlags, id, dir string, pub *ecdsa.PublicKey, asJSON bool) error {
	cfg, err := amazon.LoadConfig(ctx, amazon.Options{Region: aws.region(), Profile: aws.profile, Endpoint: aws.endpoint, MaxAttempts: aws.maxAttempts})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	desc, err := ec2.NewFromConfig(cfg).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify --ami %s: describe the image: %w", id, err)}
	}
	if len(desc.Images) != 1 {
		return &exitError{code: 2, err: fmt.Errorf("verify --ami %s: no such image in %s", id, cfg.Region)}
	}
	tags := map[string]string{}
	for _, t := range desc.Images[0].Tags {
		if t.Key != nil && t.Value != nil {
			tags[*t.Key] = *t.Value
		}
	}
	rep := &amiReport{Image: id, Region: cfg.Region, Verified: []string{}, Problems: []receipt.Problem{}}
	add := func(p, kind, format string, args ...any) {
		rep.Problems = append(rep.Problems, receipt.Problem{Path: p, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	statements, err := readSignedAttestations(dir, pub, add)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("verify --ami %s: %w", id, err)}
	}
	for n := range statements {
		rep.Verified = append(rep.Verified, n)
	}
	sort.Strings(rep.Verified)
	if len(statements) == 0 {
		add(dir, ociattest.Unattested, "no attestation in %s verifies with the key", dir)
	} else {
		if got, want := attest.ManifestDigest(statements), tags[attest.TagAttestationSHA256]; want == "" {
			add(attest.TagAttestationSHA256, receipt.Missing, "the image has no %s tag", attest.TagAttestationSHA256)
		} else if got != want {
			add(attest.TagAttestationSHA256, receipt.Modified, "the attestations' digest is %s, the tag says %s", got, want)
		}
		receipts := map[string]string{} // set -> receipt sha256, from the statements' subjects
		for _, data := range statements {
			st, _ := attest.ParseStatement(data)
			for set, d := range st.SubjectDigests() {
				receipts[set] = d
			}
		}
		if got, want := receiptsDigest(receipts), tags[catalog.TagReceiptSHA256]; got != want {
			add(catalog.TagReceiptSHA256, receipt.Modified, "the attestations' subjects give %s, the tag says %q", got, want)
		}
	}
	if asJSON {
		if err := printJSON(s.stdout, rep); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(s.stdout, "%-10s %s  (%s)\n", p.Kind, p.Path, p.Detail)
		}
		if len(rep.Problems) == 0 {
			fmt.Fprintf(s.stdout, "%s: its tags match %d signed attestation(s) in %s\n", id, len(rep.Verified), dir)
		} else {
			fmt.Fprintf(s.stdout, "%s: does NOT match the signed attestations in %s\n", id, dir)
		}
	}
	if len(rep.Problems) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// receiptsDigest is pipbake:receipt-sha256 of sets' receipts: the receipt's
// own sha256 for one set, else the sha256 of the sha256sum-style manifest
// of <set>.json files (catalog.FromReceipts).
func receiptsDigest(sets map[string]string) string {
	if len(sets) == 1 {
		for _, d := range sets {
			return d
		}
	}
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s.json\n", sets[n], n)
	}
	return attest.SHA256Hex([]byte(b.String()))
}

// readSignedAttestations reads every *.dsse.json envelope in dir whose
// signature verifies with pub and returns the statements by their file
// name (<set>.sbom.intoto.json ...); an envelope that does not verify is
// reported through add.
func readSignedAttestations(dir string, pub *ecdsa.PublicKey, add func(p, kind, format string, args ...any)) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read attestations: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, attest.EnvelopeSuffix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read attestations: %w", err)
		}
		env, _, err := attest.ParseEnvelope(data)
		if err != nil {
			add(n, receipt.Modified, "%v", err)
			continue
		}
		payload, err := env.Verify(pub)
		if err != nil {
			add(n, ociattest.Unattested, "%v", err)
			continue
		}
		if _, err := attest.ParseStatement(payload); err != nil {
			add(n, receipt.Modified, "%v", err)
			continue
		}
		out[strings.TrimSuffix(n, attest.EnvelopeSuffix)+attest.StatementSuffix] = payload
	}
	return out, nil
}
