//go:build !linux

package main

import "github.com/hashicorp/packer-plugin-sdk/plugin"

// registerBuilders registers nothing: pipbake-oci, the plugin's only
// builder, runs the build in a Linux chroot, so only the Linux plugin has
// it. The provisioner and the post-processor work from any host.
func registerBuilders(set *plugin.Set) {}
