//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go tool packer-sdc struct-markdown

package oci

import (
	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"
)

// Config is the `source "pipbake-oci"` block.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The base image: a registry reference (`debian:bookworm`,
	// `127.0.0.1:5000/base:1`), `oci-layout:DIR[@sha256:...]` for an OCI
	// image layout folder, or `docker-archive:FILE` for a `docker save`
	// tarball.
	Base string `mapstructure:"base" required:"true"`
	// The platform of the base to build on, `os/arch[/variant]`. Defaults
	// to `linux/amd64`.
	Platform string `mapstructure:"platform"`
	// A registry reference to push the image to, e.g.
	// `registry.example.com/team/app:1.4.2`. Give this, `output_oci_layout`
	// or both.
	Target string `mapstructure:"target"`
	// A folder to write the image to as an OCI image layout. The folder is
	// replaced whole when the build succeeds and left as it was otherwise.
	OutputOCILayout string `mapstructure:"output_oci_layout"`
	// The image's entrypoint. A new entrypoint drops the base's `cmd`
	// unless `cmd` is given too.
	Entrypoint []string `mapstructure:"entrypoint"`
	// The image's default arguments.
	Cmd []string `mapstructure:"cmd"`
	// Environment variables set in the image config (over the base's).
	Env map[string]string `mapstructure:"env"`
	// The user the image runs as.
	User string `mapstructure:"user"`
	// The image's working directory.
	WorkingDir string `mapstructure:"working_dir"`
	// Ports the image exposes, e.g. `8080/tcp`.
	ExposedPorts []string `mapstructure:"exposed_ports"`
	// Labels added to the image config, next to pipbake's own
	// (`pipbake:family`, `pipbake:release`, `pipbake:sets`,
	// `pipbake:receipt-sha256`, `pipbake:lock-sha256`).
	Labels map[string]string `mapstructure:"labels"`
	// Annotations added to the image manifest, next to
	// `org.opencontainers.image.{version,created,base.name,base.digest}`
	// and pipbake's labels.
	Annotations map[string]string `mapstructure:"annotations"`
	// Registries (`host[:port]`) reached over plain HTTP or without
	// verifying TLS.
	InsecureRegistries []string `mapstructure:"insecure_registries"`
	// Layer compression: `gzip` (default) or `zstd`.
	Compression string `mapstructure:"compression"`
	// One layer per pipbake set (its release root, unit file and receipt
	// copies) in set-name order, and one layer for everything else.
	// Defaults to true; false makes one layer of all changes.
	LayerPerSet *bool `mapstructure:"layer_per_set"`
	// The image family for the `pipbake:family` label (the catalog's
	// family). Defaults to the target's repository name, else the first
	// set's name.
	Family string `mapstructure:"family"`
	// `org.opencontainers.image.version`. Defaults to the pipbake release
	// id of the sets baked in.
	Version string `mapstructure:"version"`
	// Unix time that clamps every new file's time and is the image's (and
	// its new history entries') created time. Defaults to
	// `SOURCE_DATE_EPOCH` in Packer's environment; without either, files
	// are clamped to the base image's creation time and the image's
	// created time is the time of the build, so releases baked on one base
	// tell apart (set one of them for images reproducible to the digest).
	SourceDateEpoch *int64 `mapstructure:"source_date_epoch"`
	// The cache folder on the build host: pulled base blobs, unpacked base
	// layers, compressed new layers and finished pipbake releases. Defaults
	// to `~/.cache/pipbake/oci`.
	CacheDir string `mapstructure:"cache_dir"`
	// The bytecode cache folder on the build host: the `.pyc` files the
	// pipbake provisioner's installs compiled, per source file and
	// interpreter, so a later build copies them instead of compiling (the
	// provisioner's `bytecode_cache`, when it sets none). Defaults to
	// `bytecode` in `cache_dir`; `off` for none. The `.pyc` files are
	// the same bytes whether compiled or copied, and nothing in the image
	// counts them (the provisioner's log does), so with
	// `source_date_epoch` a cold and a warm build give the same image
	// digest.
	BytecodeCache string `mapstructure:"bytecode_cache"`
	// Let pipbake sets whose interpreter, lock and release are unchanged
	// restore their finished release from the cache instead of installing
	// it again. Defaults to true.
	ReleaseCache *bool `mapstructure:"release_cache"`
	// How the root is assembled: `overlay` (cached layers under an
	// overlayfs; the new layers come from its upper directory), `copy` (a
	// copy of the cached base, compared after the build) or `auto`
	// (default: overlay where the kernel allows it).
	Rootfs string `mapstructure:"rootfs"`
	// Where the build's scratch root (the overlay's upper directory, or
	// the copy) lives while provisioners run. Defaults to `/dev/shm` when
	// it is a tmpfs with at least 4 GiB free (the root is thrown away after
	// the build, so it need not reach a disk), else `cache_dir`.
	BuildDir string `mapstructure:"build_dir"`
	// Attach attestations to the image: an in-toto statement per pipbake
	// set with its CycloneDX SBOM as predicate, and one with SLSA
	// provenance v1 (pipbake and its version, the template files', locks',
	// wheels' and base image's digests, SOURCE_DATE_EPOCH, the
	// interpreters), each about the image digest, in a DSSE envelope.
	// They are pushed as OCI 1.1 referrers of the image (with the
	// `sha256-<digest>` fallback tag where the registry has no referrers
	// API) and as cosign's `sha256-<digest>.att` tag, and written into the
	// OCI layout. Defaults to true.
	Attest *bool `mapstructure:"attest"`
	// A private key that signs the attestations: ECDSA P-256, PEM
	// (`PRIVATE KEY` or `EC PRIVATE KEY`) or cosign's encrypted format
	// (`cosign generate-key-pair`; its password from `COSIGN_PASSWORD` in
	// Packer's environment). Without it the envelopes are unsigned. The
	// key is read on the build host only.
	SigningKey string `mapstructure:"signing_key"`
	// The Packer files whose sha256 the provenance records. Defaults to
	// the `*.pkr.hcl`, `*.pkr.json` and `*.pkrvars.hcl` files of Packer's
	// working folder.
	TemplateFiles []string `mapstructure:"template_files"`

	ctx interpolate.Context
}
