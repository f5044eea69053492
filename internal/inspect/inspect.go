// Package inspect says what a baked image or release holds: its family
// and release, its sets and their distributions with versions, its base,
// and the digests of its locks and receipts.
//
// It reads an OCI image in a registry or an OCI layout from its manifest
// annotations, its config labels and history, and the receipts and SBOMs
// inside its pipbake set layers, found by the history the pipbake-oci
// builder writes ("pipbake-oci: set NAME ..."): the base's layers are
// never read. An AMI is read from its tags only (its receipts are inside
// its snapshots). A release folder is read from its receipt and SBOM.
//
// Every byte is hostile: manifests, configs, receipts and SBOMs are read
// with size limits and checked against their digests, layers are
// streamed with limits on their size and entry count, only the receipt
// paths are taken from them and nothing is written, and strings are
// escaped when printed.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// Kinds of what is inspected.
const (
	KindImage   = "image"      // in a registry
	KindLayout  = "oci-layout" // an OCI layout folder
	KindAMI     = "ami"
	KindRelease = "release" // a release folder (or a root's current one)
)

// Report is what an image or release holds.
type Report struct {
	Kind string `json:"kind"`
	// Ref is what was inspected, as given.
	Ref string `json:"ref"`
	// Digest is the image manifest's digest (an AMI's id).
	Digest  string `json:"digest,omitempty"`
	Created string `json:"created,omitempty"`

	// Family, Release, SetsTag, LockSHA256 and ReceiptSHA256 are the tag
	// schema's values (AMI tags, OCI labels and annotations).
	Family        string `json:"family,omitempty"`
	Release       string `json:"release,omitempty"`
	SetsTag       string `json:"sets_tag,omitempty"`
	LockSHA256    string `json:"lock_sha256,omitempty"`
	ReceiptSHA256 string `json:"receipt_sha256,omitempty"`

	Base *Base `json:"base,omitempty"`
	// AMI: its name, state, architecture and region.
	AMI *AMI `json:"ami,omitempty"`

	Sets []Set `json:"sets"`
	// Source says where the facts come from ("tags only", "receipts in
	// the image's set layers", "the release's receipt").
	Source string `json:"source"`
	// Consistent is set when receipts were read and the tags were there
	// to compare: whether the tags say what the receipts do.
	Consistent *bool    `json:"consistent,omitempty"`
	Notes      []string `json:"notes,omitempty"`
}

// Base is the image an OCI image was built on, as its annotations say.
type Base struct {
	Name   string `json:"name,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// AMI is what EC2 says of an image.
type AMI struct {
	Name         string   `json:"name,omitempty"`
	State        string   `json:"state,omitempty"`
	Architecture string   `json:"architecture,omitempty"`
	Region       string   `json:"region,omitempty"`
	Snapshots    []string `json:"snapshots,omitempty"`
}

// Set is one package set.
type Set struct {
	Name string `json:"name"`
	// Version is the set's version as the tags give it (the version of
	// the distribution named like the set, else the release id).
	Version string `json:"version,omitempty"`
	Release string `json:"release,omitempty"`
	Root    string `json:"root,omitempty"`
	Created string `json:"created,omitempty"`
	// Pipbake is the version of pipbake that installed it.
	Pipbake   string `json:"pipbake,omitempty"`
	Installer string `json:"installer,omitempty"`
	// Ecosystem is "node" for a Node set ("" for Python); Python or
	// Node is the version of the set's runtime.
	Ecosystem string `json:"ecosystem,omitempty"`
	Python    string `json:"python,omitempty"`
	Node      string `json:"node,omitempty"`
	Platform  string `json:"platform,omitempty"`
	Lock      *Lock  `json:"lock,omitempty"`
	// ReceiptSHA256 is the sha256 of the receipt file.
	ReceiptSHA256 string `json:"receipt_sha256,omitempty"`
	// SBOMComponents counts the SBOM's components (-1: no SBOM found).
	SBOMComponents int            `json:"sbom_components"`
	Distributions  []Distribution `json:"distributions,omitempty"`
}

// Lock is the lock a set was installed from.
type Lock struct {
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Format string `json:"format,omitempty"`
}

// Distribution is one installed distribution.
type Distribution struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Wheel   string `json:"wheel,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// Options configure access to registries and AWS.
type Options struct {
	// Platform picks the image of a multi-platform index (default
	// linux/amd64, or the only one).
	Platform *v1.Platform
	// Insecure lists registries (host[:port]) reached over plain HTTP.
	Insecure []string
	// Keychain gives registry credentials (default ociimage.Keychain).
	Keychain authn.Keychain
	// Transport is the registry HTTP transport (default remote's).
	Transport http.RoundTripper
	// AWS chooses the region, profile and endpoint for AMIs.
	AWS amazon.Options
}

var amiID = regexp.MustCompile(`^ami-[0-9a-f]{8,32}$`)

// Inspect reads what ref holds: "oci-layout:DIR[@sha256:...]", an AMI id
// ("ami-..."), a release folder (or a release root, for its current
// release), or else an image reference in a registry.
func Inspect(ctx context.Context, ref string, o Options) (*Report, error) {
	switch {
	case ref == "":
		return nil, errors.New("inspect: nothing to inspect")
	case strings.HasPrefix(ref, ociimage.LayoutPrefix):
		return inspectLayout(ctx, ref, o)
	case amiID.MatchString(ref):
		return inspectAMI(ctx, ref, o)
	}
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return inspectRelease(ref)
	}
	if strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "/") {
		return nil, fmt.Errorf("inspect %s: no such folder", ref)
	}
	return inspectRegistry(ctx, ref, o)
}
