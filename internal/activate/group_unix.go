//go:build unix

package activate

import (
	"os/exec"
	"syscall"
)

// killGroup makes cmd its own process group and has a cancel kill the
// whole group (a check's curl as well as its shell).
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
