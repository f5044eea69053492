//go:build !unix

package activate

import "os/exec"

// killGroup: without process groups, a cancel kills the shell only.
func killGroup(*exec.Cmd) {}
