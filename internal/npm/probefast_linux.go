package npm

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// probeFast describes a local node without starting its JavaScript
// engine (40 ms and a fifth of a CPU-second): the version from
// `node --version`, the arch from its ELF header (process.arch's names),
// the platform from this system, the libc from /usr/bin/ldd's text as
// npm reads it. ok is false when any of them is not plain (a wrapper
// script, an unknown machine, an ldd that names neither libc): the probe
// script then answers. cache is Local.VersionCache.
func probeFast(ctx context.Context, node, cache string) (*Runtime, bool) {
	p, err := exec.LookPath(node)
	if err != nil {
		return nil, false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, false
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, false
	}
	f, err := elf.Open(real)
	if err != nil {
		return nil, false
	}
	arch := elfArch(f)
	f.Close()
	if arch == "" {
		return nil, false
	}
	ldd, err := os.ReadFile("/usr/bin/ldd")
	if err != nil {
		return nil, false
	}
	var libc string
	switch t := string(ldd); {
	case strings.Contains(t, "musl"):
		libc = "musl"
	case strings.Contains(t, "GNU C Library"):
		libc = "glibc"
	default:
		return nil, false
	}
	v, ok := nodeVersion(ctx, real, cache)
	if !ok {
		return nil, false
	}
	return &Runtime{Node: node, ExecPath: real, Version: v, Platform: "linux", Arch: arch, Libc: libc}, true
}

// nodeVersion is what `real --version` says, without its "v": read from
// the cache folder when it holds the answer for this very binary, else
// asked and kept there. The cache is only a hint: what it holds is
// checked as a version, a file that is not one is asked again, and a
// cache that cannot be written is left alone.
func nodeVersion(ctx context.Context, real, cache string) (string, bool) {
	var name string
	if cache != "" {
		var st unix.Stat_t
		if err := unix.Stat(real, &st); err == nil {
			id := fmt.Sprintf("pipbake node version 1\x00%s\x00%d %d %d %d.%d %d.%d", real, st.Dev, st.Ino, st.Size,
				st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
			sum := sha256.Sum256([]byte(id))
			name = filepath.Join(cache, "node-"+hex.EncodeToString(sum[:16]))
			if v, ok := readCachedVersion(name); ok {
				return v, true
			}
		}
	}
	cmd := exec.CommandContext(ctx, real, "--version")
	cmd.Env = withoutNodeOptions(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		return "", false
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if _, err := ParseVersion(v); err != nil {
		return "", false
	}
	if name != "" {
		writeCachedVersion(name, v)
	}
	return v, true
}

// maxCachedVersion bounds what is read of a cached answer.
const maxCachedVersion = 64

func readCachedVersion(name string) (string, bool) {
	f, err := os.Open(name)
	if err != nil {
		return "", false
	}
	defer f.Close()
	buf := make([]byte, maxCachedVersion+1)
	n, _ := io.ReadFull(f, buf)
	if n == 0 || n > maxCachedVersion {
		return "", false
	}
	v := strings.TrimSpace(string(buf[:n]))
	if _, err := ParseVersion(v); err != nil {
		return "", false
	}
	return v, true
}

// writeCachedVersion keeps v under name: written whole to a temporary
// file, then renamed, so a reader never sees half of it.
func writeCachedVersion(name, v string) {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return
	}
	_, werr := f.WriteString(v + "\n")
	if cerr := f.Close(); werr != nil || cerr != nil {
		os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), name); err != nil {
		os.Remove(f.Name())
	}
}

// elfArch is process.arch for an ELF executable's machine ("" unknown).
func elfArch(f *elf.File) string {
	le := f.Data == elf.ELFDATA2LSB
	is64 := f.Class == elf.ELFCLASS64
	switch f.Machine {
	case elf.EM_X86_64:
		return "x64"
	case elf.EM_386:
		return "ia32"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_S390:
		if is64 {
			return "s390x"
		}
	case elf.EM_RISCV:
		if is64 {
			return "riscv64"
		}
	case elf.EM_LOONGARCH:
		if is64 {
			return "loong64"
		}
	case elf.EM_MIPS:
		switch {
		case is64 && le:
			return "mips64el"
		case !is64 && le:
			return "mipsel"
		}
	}
	return ""
}

func withoutNodeOptions(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "NODE_OPTIONS=") {
			out = append(out, kv)
		}
	}
	return out
}
