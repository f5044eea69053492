// Package agent finds the pipbake binary to upload to a machine being
// baked: a path the user gave, a lean agent embedded in the plugin
// (release builds and `make build`), a lean agent built once from the
// plugin's own source (go install), or the running binary itself when the
// machine's OS and architecture match it (the Packer plugin doubles as the
// agent).
package agent

import (
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"
)

// Platform is a target's OS and architecture in Go's terms.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParseUname maps `uname -s -m` output ("Linux x86_64") to a Platform.
func ParseUname(out string) (Platform, error) {
	f := strings.Fields(out)
	if len(f) < 2 {
		return Platform{}, fmt.Errorf("unexpected `uname -s -m` output %q", strings.TrimSpace(out))
	}
	p := Platform{OS: strings.ToLower(f[0])}
	switch p.OS {
	case "linux", "darwin", "freebsd", "openbsd", "netbsd":
	default:
		return Platform{}, fmt.Errorf("unexpected `uname -s -m` output %q: unknown operating system", strings.TrimSpace(out))
	}
	switch m := f[len(f)-1]; m {
	case "x86_64", "amd64":
		p.Arch = "amd64"
	case "aarch64", "arm64", "armv8l":
		p.Arch = "arm64"
	case "i386", "i686":
		p.Arch = "386"
	default:
		p.Arch = m
	}
	return p, nil
}

// Binary is an agent binary ready to upload.
type Binary struct {
	// Path is a file to read; Data is used when Path is empty.
	Path string
	Data []byte
	// From says where it came from, for messages.
	From string
}

// For returns the agent for p: override (agent_path) when set, else an
// embedded agent (release and `make build` builds: a lean pipbake of a
// few MB), else a lean agent built once from this plugin's own source
// into the user's cache folder (go install and go build builds, when a
// Go toolchain is at hand), else the running executable when it was
// built for p (the whole plugin; From says why, and it is logged once).
func For(p Platform, override string) (*Binary, error) {
	if override != "" {
		st, err := os.Stat(override)
		if err != nil {
			return nil, fmt.Errorf("agent_path: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("agent_path %s is not a regular file", override)
		}
		return &Binary{Path: override, From: "agent_path " + override}, nil
	}
	if data, ok := embedded[p.String()]; ok {
		return &Binary{Data: data, From: fmt.Sprintf("the agent embedded for %s (%.1f MB)", p, float64(len(data))/(1<<20))}, nil
	}
	b, whyNot := lean(p)
	if whyNot == nil {
		return b, nil
	}
	if p.OS == runtime.GOOS && p.Arch == runtime.GOARCH && runtime.GOOS == "linux" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the running plugin binary to upload as the agent: %w", err)
		}
		size := ""
		if st, err := os.Stat(exe); err == nil {
			size = fmt.Sprintf(", %.0f MB", float64(st.Size())/(1<<20))
		}
		fallbackOnce.Do(func() {
			log.Printf("pipbake: uploading the whole plugin as the agent for %s: no lean agent: %v", p, whyNot)
		})
		return &Binary{Path: exe, From: fmt.Sprintf("this plugin (%s%s; no lean agent: %v)", p, size, whyNot)}, nil
	}
	have := make([]string, 0, len(embedded))
	for k := range embedded {
		have = append(have, k)
	}
	return nil, fmt.Errorf("no pipbake agent for %s: this plugin is %s/%s and embeds agents for %v, and there is no lean agent (%v); build pipbake for %s (GOOS=%s GOARCH=%s go build ./cmd/pipbake) and set agent_path",
		p, runtime.GOOS, runtime.GOARCH, have, whyNot, p, p.OS, p.Arch)
}

var fallbackOnce sync.Once
