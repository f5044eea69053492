//go:build embedagents

package agent

import _ "embed"

// Release builds embed the pipbake agents goreleaser built first into
// internal/agent/agents/ (see .goreleaser.yml).

//go:embed agents/pipbake_linux_amd64
var linuxAMD64 []byte

//go:embed agents/pipbake_linux_arm64
var linuxARM64 []byte

var embedded = map[string][]byte{"linux/amd64": linuxAMD64, "linux/arm64": linuxARM64}
