package npm

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// runOffline runs cmd in a network namespace of its own, which has only
// a loopback interface that is down: the script cannot reach the
// network. As root a new network namespace is enough; otherwise the
// script also gets a user namespace mapping the user to itself. Its own
// process group is killed when the context ends.
func runOffline(cmd *exec.Cmd) error {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWNET}
	if uid := os.Geteuid(); uid != 0 {
		gid := os.Getegid()
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start it without network (a network namespace of its own): %w", err)
	}
	return cmd.Wait()
}
