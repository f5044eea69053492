//go:build !embedagents

package agent

// embedded is empty in builds from source; release builds (-tags
// embedagents) carry agents for linux/amd64 and linux/arm64.
var embedded = map[string][]byte{}
