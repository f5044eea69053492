package main

import (
	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/pipbake/packer-plugin-pipbake/builder/oci"
)

// registerBuilders registers the pipbake-oci builder, which runs the build
// in a Linux chroot.
func registerBuilders(set *plugin.Set) {
	set.RegisterBuilder("oci", new(oci.Builder))
}
