package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/version"
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

// isolate points the lean agent cache at a fresh folder and the Go
// command at goCmd for the test. The test binary stands for a plugin
// built from this checkout: built with -trimpath (make test builds so),
// it names the checkout as such a plugin does, at link time (checkout).
func isolate(t *testing.T, goCmd string) string {
	t.Helper()
	dir := t.TempDir()
	oldRoot, oldGo, oldCheckout := cacheRoot, goTool, checkout
	cacheRoot = func() (string, error) { return dir, nil }
	goTool = goCmd
	if !filepath.IsAbs(sourceFile()) && checkout == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		checkout = filepath.Dir(filepath.Dir(wd)) // internal/agent
	}
	t.Cleanup(func() { cacheRoot, goTool, checkout = oldRoot, oldGo, oldCheckout })
	return dir
}

func TestFor(t *testing.T) {
	isolate(t, filepath.Join(t.TempDir(), "no-go-here"))
	self := Platform{runtime.GOOS, runtime.GOARCH}
	if runtime.GOOS == "linux" {
		b, err := For(self, "")
		switch {
		case err != nil:
			t.Fatalf("matching platform: %v", err)
		case len(embedded) > 0 && (b.Data == nil || !strings.Contains(b.From, "embedded")):
			t.Fatalf("a release build should upload its lean embedded agent, got %s", b.From)
		case len(embedded) == 0 && (b.Path == "" || !strings.Contains(b.From, "no lean agent") || !strings.Contains(b.From, "no Go toolchain")):
			t.Fatalf("without embedded agents and without Go, the plugin uploads itself and says why; got %+v", b)
		}
	}
	p := filepath.Join(t.TempDir(), "pipbake")
	os.WriteFile(p, []byte("x"), 0o755)
	if b, err := For(Platform{"linux", "riscv64"}, p); err != nil || b.Path != p {
		t.Fatalf("override: %v %+v", err, b)
	}
	_, err := For(Platform{"linux", "riscv64"}, "")
	if err == nil || !strings.Contains(err.Error(), "set agent_path") || !strings.Contains(err.Error(), "no lean agent") {
		t.Fatalf("want advice to set agent_path and why there is no lean agent, got %v", err)
	}
}

// TestLeanAgentBuiltOnce: a plugin without embedded agents (this test
// binary, built from the checkout like go build) builds a lean agent for
// the machine's platform from its own source once, under 15 MB, that
// reports the same version; the next bake takes it from the cache
// without a Go toolchain.
func TestLeanAgentBuiltOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pipbake")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	if len(embedded) > 0 {
		t.Skip("embedded agents come first")
	}
	cache := isolate(t, "go")
	p := Platform{"linux", runtime.GOARCH}
	b, err := For(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Path == "" || !strings.HasPrefix(b.Path, cache) || !strings.Contains(b.From, "just built from") {
		t.Fatalf("want a lean agent built into %s, got %+v", cache, b)
	}
	st, err := os.Stat(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 15<<20 {
		t.Errorf("lean agent is %.1f MB, want under 15 MB", float64(st.Size())/(1<<20))
	}
	t.Logf("%s: %.1f MB", b.From, float64(st.Size())/(1<<20))
	if runtime.GOOS == "linux" {
		out, err := exec.Command(b.Path, "version").Output()
		if err != nil || strings.TrimSpace(string(out)) != "pipbake "+version.String() {
			t.Errorf("lean agent: version %q %v, want pipbake %s", out, err, version.String())
		}
		// The lean build leaves out the full commands.
		if out, err := exec.Command(b.Path, "fetch").CombinedOutput(); err == nil || !strings.Contains(string(out), "unknown command") {
			t.Errorf("lean agent runs fetch: %s", out)
		}
	}
	goTool = filepath.Join(t.TempDir(), "no-go-here")
	again, err := For(p, "")
	if err != nil || again.Path != b.Path || strings.Contains(again.From, "just built") {
		t.Errorf("second time: %+v %v; want the cached %s", again, err, b.Path)
	}
}

// TestFindSource: go install module@version finds the module cache's
// copy; a build from a checkout, the checkout (recorded by the compiler,
// or named at link time by a -trimpath build); a -trimpath build without
// either, or another module, has none.
func TestFindSource(t *testing.T) {
	oldInfo, oldFile, oldCheckout := readBuildInfo, sourceFile, checkout
	t.Cleanup(func() { readBuildInfo, sourceFile, checkout = oldInfo, oldFile, oldCheckout })
	checkout = ""
	modcache := t.TempDir()
	t.Setenv("GOMODCACHE", modcache)
	info := func(path, v string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Path: path, Version: v}}, true
		}
	}
	src := filepath.Join(modcache, "github.com", "pipbake", "packer-plugin-pipbake@v0.3.0")
	os.MkdirAll(filepath.Join(src, "cmd", "pipbake"), 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26.0\n"), 0o444)
	os.WriteFile(filepath.Join(src, "cmd", "pipbake", "main.go"), []byte("package main\n"), 0o444)

	readBuildInfo = info(ModulePath, "v0.3.0")
	sourceFile = func() string { return ModulePath + "/internal/agent/lean.go" } // -trimpath
	if dir, how, err := findSource(); err != nil || dir != src || !strings.Contains(how, "module cache") {
		t.Errorf("go install @v0.3.0: %q %q %v", dir, how, err)
	}
	readBuildInfo = info(ModulePath, "v0.4.0")
	if _, _, err := findSource(); err == nil || !strings.Contains(err.Error(), "-trimpath") {
		t.Errorf("a -trimpath build not in the module cache: %v", err)
	}
	readBuildInfo = info("example.com/fork", "v1.0.0")
	if _, _, err := findSource(); err == nil || !strings.Contains(err.Error(), "example.com/fork") {
		t.Errorf("another module: %v", err)
	}
	// A checkout: the source path compiled in. This test binary records
	// its own unless it was built with -trimpath (CI builds so).
	readBuildInfo = info(ModulePath, "(devel)")
	wd, _ := os.Getwd()
	repo := filepath.Dir(filepath.Dir(wd))
	if f := oldFile(); filepath.IsAbs(f) {
		sourceFile = oldFile
	} else if f != ModulePath+"/internal/agent/lean.go" {
		t.Errorf("a -trimpath build's source file: %q", f)
	}
	if !filepath.IsAbs(sourceFile()) {
		sourceFile = func() string { return filepath.Join(repo, "internal", "agent", "lean.go") }
	}
	if dir, how, err := findSource(); err != nil || dir != repo || how != "the checkout this plugin was built from" {
		t.Errorf("checkout: %q %q %v, want %s", dir, how, err, repo)
	}
	gone := t.TempDir()
	sourceFile = func() string { return filepath.Join(gone, "internal", "agent", "lean.go") }
	if _, _, err := findSource(); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("a removed checkout: %v", err)
	}
	// A -trimpath build from a checkout names it at link time.
	sourceFile = func() string { return ModulePath + "/internal/agent/lean.go" }
	checkout = repo
	if dir, how, err := findSource(); err != nil || dir != repo || !strings.Contains(how, "named when this plugin was linked") {
		t.Errorf("-trimpath, checkout named at link time: %q %q %v, want %s", dir, how, err, repo)
	}
	for _, bad := range []string{gone, "relative/dir"} {
		checkout = bad
		if _, _, err := findSource(); err == nil || !strings.Contains(err.Error(), "is gone or not") {
			t.Errorf("-trimpath, checkout %q: %v", bad, err)
		}
	}
}

// TestLeanAgentBuildFails: when the Go command cannot build the agent
// (here: no module cache, and the network is off for it), the plugin
// uploads itself and says why, briefly.
func TestLeanAgentBuildFails(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil || runtime.GOOS != "linux" || len(embedded) > 0 {
		t.Skip("needs go, Linux, no embedded agents")
	}
	isolate(t, "go")
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOFLAGS", "-mod=vendor") // the user's settings do not leak into the build
	b, err := For(Platform{"linux", runtime.GOARCH}, "")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if b.Path != exe || !strings.Contains(b.From, "no lean agent: building a lean agent for linux/"+runtime.GOARCH) || strings.Contains(b.From, "vendor") {
		t.Errorf("got %+v", b)
	}
	if len(b.From) > 1000 {
		t.Errorf("a %d-character reason floods Packer's UI: %s", len(b.From), b.From)
	}
	t.Log(b.From)
}

// TestLeanAgentFromReadOnlySource: the module cache's copy of a version
// is read-only; the lean agent builds from such a folder (the go command
// writes nothing there; as root the modes do not stop writes, so there
// the test shows only that a copy outside any checkout builds).
func TestLeanAgentFromReadOnlySource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pipbake")
	}
	goBin, err := exec.LookPath("go")
	if err != nil || runtime.GOOS != "linux" {
		t.Skip("needs go on Linux")
	}
	root, _ := filepath.Abs("../..")
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("git: %v", err)
	}
	src := filepath.Join(t.TempDir(), "github.com", "pipbake", "packer-plugin-pipbake@v0.1.0")
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			continue
		}
		os.MkdirAll(filepath.Dir(filepath.Join(src, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(src, rel), data, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o555)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	if !isModuleDir(src) {
		t.Fatal("the copy is not the module")
	}
	dest := filepath.Join(t.TempDir(), "pipbake_linux_"+runtime.GOARCH)
	if err := build(goBin, src, Platform{"linux", runtime.GOARCH}, dest); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(dest, "version").Output(); err != nil || strings.TrimSpace(string(out)) != "pipbake "+version.String() {
		t.Errorf("version %q %v", out, err)
	}
}
