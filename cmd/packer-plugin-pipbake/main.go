// Command packer-plugin-pipbake is the Packer plugin: the pipbake
// provisioner, the pipbake-release post-processor and, on Linux, the
// pipbake-oci builder (builders_linux.go).
//
// The same binary is the pipbake agent: the provisioner uploads it to the
// machine being baked as "pipbake", and under that name (or as
// `packer-plugin-pipbake agent ...`) it runs the pipbake command line.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/plugin"
	sdkversion "github.com/hashicorp/packer-plugin-sdk/version"

	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/cli"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
	"github.com/pipbake/packer-plugin-pipbake/post-processor/release"
	"github.com/pipbake/packer-plugin-pipbake/provisioner/pipbake"
)

func main() {
	// The pipbake-oci builder re-executes this binary to run each
	// operation in a fresh mount namespace chrooted into the image's root
	// (internal/chroot); that hidden subcommand is dispatched here.
	chroot.MaybeHelper(os.Args)
	if filepath.Base(os.Args[0]) == "pipbake" {
		cli.Main(os.Args[1:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		cli.Main(os.Args[2:])
		return
	}
	set := plugin.NewSet()
	set.RegisterProvisioner(plugin.DEFAULT_NAME, new(pipbake.Provisioner))
	set.RegisterPostProcessor("release", new(release.PostProcessor))
	registerBuilders(set)
	set.SetVersion(sdkversion.NewPluginVersion(version.Plugin()))
	if err := set.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
