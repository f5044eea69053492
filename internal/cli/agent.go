//go:build pipbake_agent

package cli

// The lean agent build: install, verify, releases, local rollback, stop,
// version, help, completion, and activate (push's side on a host).
func fullCommands() []*command { return nil }

func variants(string) []variant { return nil }
