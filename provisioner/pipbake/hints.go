package pipbake

import (
	"fmt"
	"strings"
	"sync"
)

// SudoExecuteCommand is the execute_command that runs the agent as root
// through sudo, keeping the environment.
const SudoExecuteCommand = "chmod +x {{.Agent}} && sudo -E {{.Agent}} {{.Args}}"

// hints watches the lines the machine printed during a bake for problems
// whose fix lies in the template, and says the fix with the error.
type hints struct {
	mu         sync.Mutex
	sudoPass   bool // sudo wanted a password
	permission bool // something was refused for lack of permission
}

// see reads one line of the machine's output.
func (h *hints) see(line string) {
	l := strings.ToLower(line)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	// sudo's own words: with -n; without a terminal; older versions.
	case strings.Contains(l, "sudo: a password is required"),
		strings.Contains(l, "sudo: a terminal is required to read the password"),
		strings.Contains(l, "sudo: no tty present and no askpass program specified"):
		h.sudoPass = true
	case strings.Contains(l, "permission denied"):
		h.permission = true
	}
}

// explain adds to err what the lines seen suggest, for the template's
// executeCommand.
func (h *hints) explain(err error, executeCommand string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.sudoPass:
		return fmt.Errorf("%w\nhint: sudo asked for a password: the communicator's user needs passwordless sudo (a sudoers line such as \"USER ALL=(ALL) NOPASSWD: ALL\", as cloud images give their default user), or connect as root", err)
	case h.permission && !strings.Contains(executeCommand, "sudo"):
		return fmt.Errorf("%w\nhint: permission denied: the agent runs as the communicator's user; to create the sets' roots and services it usually needs root: execute_command = %q", err, SudoExecuteCommand)
	}
	return err
}
