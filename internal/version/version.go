// Package version holds pipbake's version, set at release time with
// -ldflags "-X github.com/pipbake/packer-plugin-pipbake/internal/version.Version=1.2.3".
package version

// Version is the pipbake version.
var Version = "0.1.0-dev"
