//go:build !embedagents

package agent

// embedded is empty in plain builds (go build, go install), which build a
// lean agent on first use instead (lean.go); release builds and `make
// build` (-tags embedagents) carry agents for linux/amd64 and linux/arm64.
var embedded = map[string][]byte{}
