//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go tool packer-sdc struct-markdown

package pipbake

import (
	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// Config is the `provisioner "pipbake"` block.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The package sets to install, one `set` block each: `name`, `lock`
	// (a lock file on the Packer host), `root`, and optionally `python`,
	// `keep`, `compile`, `installer` and a `service` block; a Node set's
	// lock is a `package-lock.json` (its `package.json` beside it), with
	// optionally `node`, `app`, `include_dev` and `scripts_allow`. The same
	// fields as the sets of the CLI's pipbake.hcl.
	Sets []plan.Set `mapstructure:"set" required:"true"`
	// A folder of wheels on the Packer host holding every wheel the locks
	// pin (for example the output of `pipbake fetch`). Only the wheels the
	// machine's interpreter needs are uploaded. Give this or `sources`.
	Wheelhouse string `mapstructure:"wheelhouse"`
	// A folder of npm tarballs on the Packer host holding every tarball
	// the Node sets' locks pin (`pipbake fetch --lock package-lock.json`
	// makes one). Only the tarballs the machine's node needs (its
	// platform, arch and libc) are uploaded. Defaults to `wheelhouse`;
	// with `sources`, the tarballs are fetched instead.
	Tarballs string `mapstructure:"tarballs"`
	// Where to fetch the pinned wheels from on the Packer host, tried in
	// order: simple-index URLs (PEP 503/691), `s3://bucket/prefix`, or
	// folders. The wheels are chosen for the interpreter probed on the
	// machine, verified against the lock and cached. Give this or
	// `wheelhouse`.
	Sources []string `mapstructure:"sources"`
	// The fetch cache folder on the Packer host. Defaults to pipbake's
	// user cache folder.
	Cache string `mapstructure:"cache"`
	// The endpoint of an S3-compatible store for `s3://` sources.
	// Defaults to AWS_ENDPOINT_URL or AWS.
	S3Endpoint string `mapstructure:"s3_endpoint"`
	// The release id every set is installed under. Defaults to the UTC
	// time the build started (e.g. `20261126T051502Z`), so a retried
	// provisioner re-uses it.
	Release string `mapstructure:"release"`
	// The folder on the machine the bundle is uploaded to: the agent, plan
	// and locks are unpacked there, the wheels are read inside the bundle.
	// Defaults to `/tmp/pipbake-<release>`.
	StagingDirectory string `mapstructure:"staging_directory"`
	// Leave the staging folder on the machine.
	SkipClean bool `mapstructure:"skip_clean"`
	// The command that runs the agent. `{{.Agent}}` is the agent's path
	// and `{{.Args}}` its arguments. Defaults to
	// `chmod +x {{.Agent}} && {{.Agent}} {{.Args}}`; use
	// `chmod +x {{.Agent}} && sudo -E {{.Agent}} {{.Args}}` when the
	// communicator's user is not root.
	ExecuteCommand string `mapstructure:"execute_command"`
	// A folder on the Packer host that gets each set's receipt
	// (`<set>.json`), CycloneDX SBOM (`<set>.cdx.json`) and in-toto
	// statements (`attestations/<set>.sbom.intoto.json` and
	// `attestations/<set>.provenance.intoto.json`, the bytes the agent
	// keeps in the image under `/var/lib/pipbake/attestations`), which the
	// `pipbake-release` post-processor signs. Each set's provenance names
	// the plan the agent installed and the `template_files` by sha256,
	// except under `pipbake-oci`: there the image's provenance names them,
	// and a set's statements, in its layer, depend on that set only.
	ReceiptOutput string `mapstructure:"receipt_output"`
	// The Packer files whose sha256 the sets' provenance records, beside
	// the sha256 of the plan the agent installed (not under `pipbake-oci`,
	// whose own `template_files` the image's provenance names). Packer
	// tells a provisioner no template path for an HCL2 template (it sends
	// `packer_template_path` for legacy JSON templates only), so they are
	// named here, e.g. `[for f in fileset(path.root, "*.pkr.hcl") :
	// "${path.root}/${f}"]`. Defaults to the `*.pkr.hcl`, `*.pkr.json` and
	// `*.pkrvars.hcl` files of Packer's working folder, as `pipbake-oci`'s
	// `template_files`.
	TemplateFiles []string `mapstructure:"template_files"`
	// The bytecode cache folder on the Packer host: the `.pyc` files
	// compiled for the modules of the chosen wheels, per interpreter, so
	// each file is compiled once and every later bake copies it. The
	// bundle carries the cached files the machine's interpreter needs,
	// the agent compiles only the rest, and those come back with the
	// receipts into this cache (only files asked for, for that
	// interpreter). Bakes running at once may share it. Defaults to the
	// folder the `pipbake-oci` builder names when it runs this
	// provisioner, else `pipbake/bytecode` in Packer's cache folder
	// (`PACKER_CACHE_DIR`); `off` compiles everything on the machine and
	// keeps no cache there. Prune it with `pipbake cache prune --dir
	// DIR --max-size 2GB`.
	BytecodeCache string `mapstructure:"bytecode_cache"`
	// A pipbake binary to upload as the agent, for machines whose OS or
	// architecture differs from the Packer host's when the plugin does not
	// embed an agent for them.
	AgentPath string `mapstructure:"agent_path"`

	ctx interpolate.Context
}
