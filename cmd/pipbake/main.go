// Command pipbake fetches, installs, verifies and rolls back pinned Python
// package sets. It is also the agent the Packer provisioner runs on the
// machine being baked.
package main

import (
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/cli"
)

func main() { cli.Main(os.Args[1:]) }
