// Package version holds pipbake's version. Release builds set it with
//
//	-ldflags "-X github.com/pipbake/packer-plugin-pipbake/internal/version.Version=1.2.3
//	          -X github.com/pipbake/packer-plugin-pipbake/internal/version.Prerelease=
//	          -X github.com/pipbake/packer-plugin-pipbake/internal/version.Metadata="
//
// A build from source (go build, go install, make build) keeps the
// defaults: the version of the checkout with the semantic-version build
// metadata "dev", e.g. 0.1.0+dev. Packer treats build metadata as
// nothing, so such a plugin, installed with `packer plugins install
// --path`, is installed as v0.1.0 and satisfies `version = ">= 0.1.0"`:
// `packer init` then finds it and stays off the network. (Packer's init
// ignores plugins with a prerelease, so a 0.1.0-dev build would send it
// to GitHub.)
package version

// Version is the release's semantic version, without prerelease.
var Version = "0.1.0"

// Prerelease is a prerelease label ("dev" for snapshot builds, "rc.1",
// ...); empty for releases and builds from source.
var Prerelease = ""

// Metadata is semantic-version build metadata: "dev" for builds from
// source, empty for releases. It is shown only when Prerelease is empty
// (a prerelease says enough).
var Metadata = "dev"

// String is the full version, e.g. "0.1.0+dev", "0.1.1-dev" or "1.2.3".
func String() string {
	v, pre, meta := Plugin()
	switch {
	case pre != "":
		return v + "-" + pre
	case meta != "":
		return v + "+" + meta
	}
	return v
}

// Plugin is the version, prerelease and build metadata the Packer plugin
// describes itself with (packer-plugin-sdk's NewPluginVersion).
func Plugin() (version, prerelease, metadata string) {
	if Prerelease != "" {
		return Version, Prerelease, ""
	}
	return Version, "", Metadata
}
