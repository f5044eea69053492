package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// ModulePath is pipbake's Go module.
const ModulePath = "github.com/pipbake/packer-plugin-pipbake"

// A plugin without embedded agents (go install, go build) builds a lean
// agent (-tags pipbake_agent) from its own source the first time it needs
// one, into the user's cache folder, keyed by its version, its own bytes
// and the platform: later bakes upload that instead of the whole plugin.
// The source is the module cache's copy of the exact version for `go
// install module@version`, or the checkout a `go build` compiled (whose
// path the binary records unless built with -trimpath; a -trimpath build
// names it at link time, see checkout).
var (
	// goTool is the Go command; cacheRoot the cache folder (the user's).
	goTool    = "go"
	cacheRoot = os.UserCacheDir
	// readBuildInfo and sourceFile describe the running binary.
	readBuildInfo = debug.ReadBuildInfo
	sourceFile    = func() string { _, f, _, _ := runtime.Caller(0); return f }
	// buildTimeout bounds one build of the agent.
	buildTimeout = 15 * time.Minute
)

// checkout is the checkout a -trimpath build was compiled from, which
// such a build does not record itself: set at link time, as
//
//	go build -trimpath -ldflags "-X github.com/pipbake/packer-plugin-pipbake/internal/agent.checkout=$PWD" ./cmd/packer-plugin-pipbake
//
// A link-time setting, so such builds share every compiled package with
// release builds (CI builds its tests so; README, "What CI costs").
var checkout string

// LeanDir is the folder of lean agents built on first use, under the
// user's cache folder.
func LeanDir() (string, error) {
	root, err := cacheRoot()
	if err != nil {
		return "", fmt.Errorf("no cache folder for lean agents: %w", err)
	}
	return filepath.Join(root, "pipbake", "agents"), nil
}

var (
	selfOnce sync.Once
	selfKey  string
	selfErr  error
)

// selfDigest is a short digest of the running executable: a rebuilt
// plugin gets its own agent even when its version string is the same.
func selfDigest() (string, error) {
	selfOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			selfErr = err
			return
		}
		f, err := os.Open(exe)
		if err != nil {
			selfErr = err
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			selfErr = err
			return
		}
		selfKey = hex.EncodeToString(h.Sum(nil))[:16]
	})
	return selfKey, selfErr
}

// leanPath is where the lean agent for p of this build is cached.
func leanPath(p Platform) (string, error) {
	dir, err := LeanDir()
	if err != nil {
		return "", err
	}
	d, err := selfDigest()
	if err != nil {
		return "", fmt.Errorf("hash this plugin: %w", err)
	}
	return filepath.Join(dir, safeName(version.String())+"-"+d, "pipbake_"+p.OS+"_"+p.Arch), nil
}

// safeName keeps a version string to characters safe in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '+' {
			return r
		}
		return '_'
	}, s)
}

var buildMu sync.Mutex

// lean returns the lean agent for p: cached, or built now from this
// plugin's source with the Go toolchain. The error says why there is
// none.
func lean(p Platform) (*Binary, error) {
	path, err := leanPath(p)
	if err != nil {
		return nil, err
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if err := checkELF(path, p); err == nil {
		return &Binary{Path: path, From: fmt.Sprintf("the lean agent for %s built from this plugin's source (%s)", p, path)}, nil
	}
	src, how, err := findSource()
	if err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath(goTool)
	if err != nil {
		return nil, fmt.Errorf("no Go toolchain to build one from %s (%v)", src, err)
	}
	if err := build(goBin, src, p, path); err != nil {
		return nil, err
	}
	return &Binary{Path: path, From: fmt.Sprintf("a lean agent for %s just built from %s (%s), cached in %s", p, src, how, path)}, nil
}

// findSource finds the source of the running build: the module cache's
// copy of its version, or the checkout it was compiled from.
func findSource() (dir, how string, err error) {
	bi, ok := readBuildInfo()
	if !ok {
		return "", "", errors.New("this binary carries no build information")
	}
	if bi.Main.Path != ModulePath {
		return "", "", fmt.Errorf("this binary is built from module %q, not %s", bi.Main.Path, ModulePath)
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" && !strings.HasSuffix(v, "+dirty") {
		if cache := modCache(); cache != "" {
			d := filepath.Join(cache, escapeModulePath(ModulePath)+"@"+v)
			if isModuleDir(d) {
				return d, "the module cache's " + ModulePath + "@" + v, nil
			}
		}
	}
	f := sourceFile()
	if filepath.IsAbs(f) {
		d := filepath.Dir(filepath.Dir(filepath.Dir(f))) // <module>/internal/agent/lean.go
		if !isModuleDir(d) {
			return "", "", fmt.Errorf("the checkout this plugin was built from, %s, is gone", d)
		}
		return d, "the checkout this plugin was built from", nil
	}
	if checkout == "" {
		return "", "", errors.New("this plugin was built with -trimpath and is not in the module cache: its source is unknown (a -trimpath build names its checkout with -ldflags -X " + ModulePath + "/internal/agent.checkout=DIR)")
	}
	if !filepath.IsAbs(checkout) || !isModuleDir(checkout) {
		return "", "", fmt.Errorf("the checkout this plugin names at link time, %s, is gone or not %s's", checkout, ModulePath)
	}
	return checkout, "the checkout named when this plugin was linked", nil
}

// modCache is GOMODCACHE, else GOPATH's (first entry) pkg/mod, else
// ~/go/pkg/mod.
func modCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// escapeModulePath spells a module path as the module cache does: each
// upper-case letter as "!" and its lower case.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return filepath.FromSlash(b.String())
}

// isModuleDir reports whether d holds pipbake's module with cmd/pipbake.
func isModuleDir(d string) bool {
	data, err := os.ReadFile(filepath.Join(d, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(first) != "module "+ModulePath {
		return false
	}
	_, err = os.Stat(filepath.Join(d, "cmd", "pipbake", "main.go"))
	return err == nil
}

// build compiles the lean agent for p from src into path, as release
// builds do (-trimpath, CGO_ENABLED=0, -tags pipbake_agent, this build's
// version), without the network (GOPROXY=off, GOTOOLCHAIN=local).
func build(goBin, src string, p Platform, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("lean agent cache: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	defer os.Remove(tmp)
	v, pre, meta := version.Version, version.Prerelease, version.Metadata
	ldflags := fmt.Sprintf("-s -w -X %[1]s/internal/version.Version=%[2]s -X %[1]s/internal/version.Prerelease=%[3]s -X %[1]s/internal/version.Metadata=%[4]s", ModulePath, v, pre, meta)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-tags", "pipbake_agent", "-ldflags", ldflags, "-o", tmp, "./cmd/pipbake")
	cmd.Dir = src
	cmd.Env = buildEnv(os.Environ(), p)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		// The first lines say why; the rest would flood Packer's UI.
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !strings.HasPrefix(l, "go: downloading ") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 3 {
			lines = append(lines[:3], "...")
		}
		msg := strings.Join(lines, "; ")
		if len(msg) > 500 {
			msg = msg[:500] + " ..."
		}
		return fmt.Errorf("building a lean agent for %s from %s failed: %v: %s", p, src, err, msg)
	}
	if err := checkELF(tmp, p); err != nil {
		return fmt.Errorf("the lean agent built from %s: %w", src, err)
	}
	if err := sameRevision(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// buildEnv is env for the build: the target platform, no cgo, and
// nothing that would send the go command to the network or another
// module setup.
func buildEnv(env []string, p Platform) []string {
	drop := map[string]bool{"GOOS": true, "GOARCH": true, "CGO_ENABLED": true, "GOFLAGS": true, "GOWORK": true, "GOTOOLCHAIN": true, "GOPROXY": true, "GOARM64": true, "GOAMD64": true}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
}

// elfMachines are the ELF machines of the architectures agents run on.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM, "riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390}

// checkELF checks that path is an executable for p (for Linux, an ELF
// executable of p's machine).
func checkELF(path string, p Platform) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Size() == 0 {
		return fmt.Errorf("%s is not an executable", path)
	}
	if p.OS != "linux" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[p.Arch]; ok && f.Machine != want {
		return fmt.Errorf("%s is for %v, not %s", path, f.Machine, p)
	}
	return nil
}

// sameRevision refuses an agent built from a checkout at another commit
// than the plugin's (the checkout moved on since the plugin was built).
func sameRevision(agentPath string) error {
	self, ok := readBuildInfo()
	if !ok {
		return nil
	}
	mine := setting(self, "vcs.revision")
	if mine == "" {
		return nil
	}
	abi, err := buildinfo.ReadFile(agentPath)
	if err != nil {
		return nil
	}
	if theirs := setting(abi, "vcs.revision"); theirs != "" && theirs != mine {
		return fmt.Errorf("the checkout is now at commit %.12s, but this plugin was built at %.12s: rebuild the plugin (make build)", theirs, mine)
	}
	return nil
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
