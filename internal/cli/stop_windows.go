package cli

import "os"

func terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func kill(pid int) error { return terminate(pid) }
