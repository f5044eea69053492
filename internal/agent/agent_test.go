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
		switch {
		case err != nil:
			t.Fatalf("matching platform: %v", err)
		case len(embedded) > 0 && (b.Data == nil || !strings.Contains(b.From, "embedded")):
			t.Fatalf("a release build should upload its lean embedded agent, got %s", b.From)
		case len(embedded) == 0 && b.Path == "":
			t.Fatalf("a build from source should upload itself, got %s", b.From)
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
