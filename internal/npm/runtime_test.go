package npm

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

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
	fast, ok := probeFast(context.Background(), "node", "")
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

// TestProbeVersionCache: with a VersionCache, a probe reads node's version
// from the answer kept for that very binary (shown by planting another
// answer), asks node again when the answer is not a version, and when the
// binary changes.
func TestProbeVersionCache(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the version cache is part of the Linux fast probe")
	}
	nodePath, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not installed")
	}
	ctx := context.Background()
	want, err := Probe(ctx, Local{}, "node")
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "versions")
	kept := func() string {
		t.Helper()
		names, _ := filepath.Glob(filepath.Join(cache, "node-*"))
		if len(names) != 1 {
			t.Fatalf("cache holds %v, want one answer", names)
		}
		return names[0]
	}
	rt, err := Probe(ctx, Local{VersionCache: cache}, "node")
	if err != nil || *rt != *want {
		t.Fatalf("first probe with a cache: %+v, %v; want %+v", rt, err, want)
	}
	name := kept()
	if data, _ := os.ReadFile(name); strings.TrimSpace(string(data)) != want.Version {
		t.Fatalf("kept answer %q, want %q", data, want.Version)
	}
	// The kept answer is what the next probe says: node was not asked.
	if err := os.WriteFile(name, []byte("99.1.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rt, err := Probe(ctx, Local{VersionCache: cache}, "node"); err != nil || rt.Version != "99.1.2" {
		t.Fatalf("probe with a kept answer: %+v, %v", rt, err)
	}
	// An answer that is not a version is asked again and replaced.
	for _, bad := range []string{"", "not a version\n", strings.Repeat("1", 200)} {
		if err := os.WriteFile(name, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if rt, err := Probe(ctx, Local{VersionCache: cache}, "node"); err != nil || *rt != *want {
			t.Fatalf("kept answer %q: %+v, %v", bad, rt, err)
		}
		if data, _ := os.ReadFile(kept()); strings.TrimSpace(string(data)) != want.Version {
			t.Fatalf("kept answer %q not replaced: %q", bad, data)
		}
	}
	if testing.Short() {
		return
	}
	// Another binary (a copy, then the copy touched) is asked itself.
	dir := t.TempDir()
	cp := filepath.Join(dir, "node")
	data, err := os.ReadFile(nodePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	rt, err = Probe(ctx, Local{VersionCache: cache}, cp)
	if err != nil || rt.Version != want.Version || rt.ExecPath != cp {
		t.Fatalf("probe of a copy: %+v, %v", rt, err)
	}
	names, _ := filepath.Glob(filepath.Join(cache, "node-*"))
	if len(names) != 2 {
		t.Fatalf("cache holds %v, want the answers of two binaries", names)
	}
	for _, n := range names {
		if n != name {
			if err := os.WriteFile(n, []byte("99.1.2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(cp, later, later); err != nil {
		t.Fatal(err)
	}
	if rt, err := Probe(ctx, Local{VersionCache: cache}, cp); err != nil || rt.Version != want.Version {
		t.Fatalf("probe of a changed binary: %+v, %v (the answer kept for it before the change was 99.1.2)", rt, err)
	}
}
