// Command packer-plugin-pipbake is the Packer plugin: the pipbake
// provisioner and the pipbake-oci builder. Packer runs it; run it yourself
// only as `packer-plugin-pipbake describe`.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"
	sdkversion "github.com/hashicorp/packer-plugin-sdk/version"

	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

func main() {
	set := plugin.NewSet()
	set.SetVersion(sdkversion.NewPluginVersion(version.Version, version.Prerelease, ""))
	if err := set.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
