//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go tool packer-sdc struct-markdown

package release

import (
	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"
)

// Config is the `post-processor "pipbake-release"` block.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The image family, written as `pipbake:family` (e.g. `api-node`):
	// letters, digits, `.`, `_` and `-`. Releases of a family are what
	// `pipbake images`, `promote`, `rollback` and `prune` work on.
	Family string `mapstructure:"family" required:"true"`
	// The folder the pipbake provisioner's `receipt_output` wrote the
	// receipts to (`<set>.json`). The release id, `pipbake:sets`,
	// `pipbake:lock-sha256` and `pipbake:receipt-sha256` come from them.
	// Required unless `release` is given.
	ReceiptsDir string `mapstructure:"receipts_dir"`
	// A private key that signs the release's attestations: ECDSA P-256,
	// PEM (`PRIVATE KEY` or `EC PRIVATE KEY`) or cosign's encrypted format
	// (its password from `COSIGN_PASSWORD`). With `receipts_dir`, each
	// set's in-toto statements (its SBOM and its SLSA provenance, about
	// the sha256 of its receipt; the same statements the agent keeps in
	// the image under `/var/lib/pipbake/attestations`) are written as DSSE
	// envelopes to `<receipts_dir>/attestations/`, signed with this key
	// (unsigned without it), and their digest tags the images as
	// `pipbake:attestation-sha256`. The key is read on the Packer host
	// only; it never reaches the machine being baked. The provenance names
	// the plan each set was installed from and the template files by
	// sha256, as the provisioner's statements in
	// `<receipts_dir>/attestations/` do (the post-processor makes the same
	// bytes and refuses statements its receipts do not make); there is no
	// template setting here, since Packer tells a post-processor no
	// template path: the provisioner's `template_files` names them.
	SigningKey string `mapstructure:"signing_key"`
	// The release id, written as `pipbake:release`. Defaults to the
	// receipts' release (the provisioner's `release`).
	Release string `mapstructure:"release"`
	// The AWS shared config profile. Credentials and regions otherwise
	// come from the AWS default chain; each image is tagged in its own
	// region.
	Profile string `mapstructure:"profile"`
	// An AWS endpoint URL, for emulators. Defaults to `AWS_ENDPOINT_URL`,
	// else AWS.
	EndpointURL string `mapstructure:"endpoint_url"`
	// Attempts per AWS call; throttling and transient errors are retried
	// with exponential backoff. Defaults to 8.
	MaxAttempts int `mapstructure:"max_attempts"`

	ctx interpolate.Context
}
