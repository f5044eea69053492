// Package version holds pipbake's version. Release builds set it with
//
//	-ldflags "-X github.com/pipbake/packer-plugin-pipbake/internal/version.Version=1.2.3
//	          -X github.com/pipbake/packer-plugin-pipbake/internal/version.Prerelease="
package version

// Version is the release's semantic version, without prerelease.
var Version = "0.1.0"

// Prerelease is a prerelease label ("dev" for builds from source); empty
// for releases.
var Prerelease = "dev"

// String is the full version, e.g. "0.1.0-dev" or "1.2.3".
func String() string {
	if Prerelease == "" {
		return Version
	}
	return Version + "-" + Prerelease
}
