//go:build embedagents

package agent

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestEmbeddedAgents runs in release builds only (go test -tags
// embedagents, after goreleaser's before hooks or `make release-check`
// built internal/agent/agents/): the embedded agents are static Linux
// executables for their architecture, For hands them out for machines the
// running binary cannot serve itself, and the one for this machine runs.
func TestEmbeddedAgents(t *testing.T) {
	machines := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}
	if len(embedded) != len(machines) {
		t.Errorf("embedded agents for %d platforms, want %d", len(embedded), len(machines))
	}
	for plat, machine := range machines {
		data := embedded[plat]
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %d bytes, not an ELF file: %v", plat, len(data), err)
			continue
		}
		if f.Machine != machine || f.Type != elf.ET_EXEC {
			t.Errorf("%s: ELF %v %v, want %v ET_EXEC", plat, f.Machine, f.Type, machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked (CGO_ENABLED=0 makes a static agent)", plat)
			}
		}
		// A machine this process is not built for gets the embedded
		// agent (this process serves its own platform itself).
		p := Platform{"linux", strings.TrimPrefix(plat, "linux/")}
		if runtime.GOOS == "linux" && p.Arch == runtime.GOARCH {
			continue
		}
		b, err := For(p, "")
		if err != nil || b.Path != "" || !bytes.Equal(b.Data, data) {
			t.Errorf("For(%s) = %+v, %v; want the embedded agent", p, b, err)
		}
	}

	data, ok := embedded[runtime.GOOS+"/"+runtime.GOARCH]
	if !ok {
		t.Skipf("no embedded agent runs on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	bin := filepath.Join(t.TempDir(), "pipbake")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "pipbake ") {
		t.Errorf("embedded agent: pipbake version: %q %v", out, err)
	}
	t.Logf("embedded agent for %s/%s: %s", runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(out)))
}
