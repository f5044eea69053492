package agent

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseUname(t *testing.T) {
	for in, want := range map[string]string{"Linux x86_64\n": "linux/amd64", "Linux aarch64": "linux/arm64", "Darwin arm64": "darwin/arm64"} {
		p, err := ParseUname(in)
		if err != nil || p.String() != want {
			t.Errorf("%q: %v %v", in, p, err)
		}
	}
	if _, err := ParseUname("command not found"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestFor(t *testing.T) {
	self := Platform{runtime.GOOS, runtime.GOARCH}
	if runtime.GOOS == "linux" {
		b, err := For(self, "")
		if err != nil || b.Path == "" {
			t.Fatalf("matching platform: %v %+v", err, b)
		}
	}
	p := filepath.Join(t.TempDir(), "pipbake")
	os.WriteFile(p, []byte("x"), 0o755)
	if b, err := For(Platform{"linux", "riscv64"}, p); err != nil || b.Path != p {
		t.Fatalf("override: %v %+v", err, b)
	}
	_, err := For(Platform{"linux", "riscv64"}, "")
	if err == nil || !strings.Contains(err.Error(), "set agent_path") {
		t.Fatalf("want advice to set agent_path, got %v", err)
	}
}
