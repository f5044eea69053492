package main

import (
	"testing"
)

// TestPluginCheck runs packer-sdc's plugin-check, the check Packer's
// plugin scaffolding runs before a release, on the plugin built from
// source.
func TestPluginCheck(t *testing.T) {
	bin := pluginBinary(t)
	pluginCheck(t, bin)
	d := describe(t, bin)
	if d.APIVersion != "x5.0" {
		t.Errorf("api_version %q: .goreleaser.yml names the release binaries x5.0; change both together", d.APIVersion)
	}
}
