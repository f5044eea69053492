//go:build !linux

package npm

import (
	"errors"
	"os/exec"
)

// runOffline refuses: only on Linux can pipbake cut a script off the
// network.
func runOffline(cmd *exec.Cmd) error {
	return errors.New("lifecycle scripts run only on Linux, where pipbake can cut them off the network")
}
