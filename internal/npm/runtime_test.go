package npm

import (
	"context"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// scriptOnly runs commands like Local but is not Local: Probe runs the
// probe script, as on a remote machine.
type scriptOnly struct{}

func (scriptOnly) Run(ctx context.Context, command string, stdout, stderr io.Writer) (int, error) {
	return Local{}.Run(ctx, command, stdout, stderr)
}

// TestProbeFastMatchesScript: the local probe that does not start node's
// engine says what the probe script says.
func TestProbeFastMatchesScript(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not installed")
	}
	slow, err := Probe(context.Background(), scriptOnly{}, "node")
	if err != nil {
		t.Fatal(err)
	}
	fast, ok := probeFast(context.Background(), "node")
	if runtime.GOOS == "linux" && !ok {
		t.Fatal("the fast probe did not answer on Linux")
	}
	if ok && *fast != *slow {
		t.Fatalf("fast probe %+v, script %+v", *fast, *slow)
	}
	viaLocal, err := Probe(context.Background(), Local{}, "node")
	if err != nil || *viaLocal != *slow {
		t.Fatalf("Probe(Local) = %+v, %v; the script says %+v", viaLocal, err, slow)
	}
	t.Logf("%s at %s", slow, slow.ExecPath)
}

// TestProbeErrors: a missing node is named with the fix; garbage is refused.
func TestProbeErrors(t *testing.T) {
	_, err := Probe(context.Background(), scriptOnly{}, "/nonexistent/node")
	if err == nil || !strings.Contains(err.Error(), "not found (exit status 127); install Node.js") {
		t.Errorf("missing node: %v", err)
	}
	for _, out := range []string{"", "not json", `{"version": "v1"}`, `{"version": "v20.1.0"}`} {
		if _, err := DecodeProbe([]byte(out), "node"); err == nil {
			t.Errorf("DecodeProbe(%q) accepted", out)
		}
	}
	rt, err := DecodeProbe([]byte("motd line\n{\"exec_path\":\"/usr/bin/node\",\"version\":\"v20.1.0\",\"platform\":\"linux\",\"arch\":\"arm64\",\"libc\":\"musl\"}\r\n"), "node")
	if err != nil || rt.Version != "20.1.0" || rt.Arch != "arm64" || rt.Libc != "musl" || rt.String() != "node 20.1.0 (linux arm64 musl)" {
		t.Errorf("DecodeProbe: %+v %v", rt, err)
	}
}
