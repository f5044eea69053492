// Package target probes a Python interpreter once and describes it: version,
// implementation, ABI, platform, libc, virtual environment scheme paths and
// the wheel tags it supports in preference order.
package target

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
)

//go:embed probe.py
var probeScript string

// Target is what pipbake knows about one interpreter.
type Target struct {
	// Executable is the path the interpreter was asked for, made absolute.
	Executable string `json:"executable"`
	// BaseExecutable is the interpreter a venv made from it links to.
	BaseExecutable string `json:"base_executable"`
	// RealExecutable is Executable with every symlink resolved.
	RealExecutable string `json:"real_executable"`
	Prefix         string `json:"prefix"`
	BasePrefix     string `json:"base_prefix"`
	// Version is major, minor, micro.
	Version        [3]int `json:"version"`
	VersionFull    string `json:"version_full"`
	Implementation string `json:"implementation"`
	// CacheTag names bytecode files, e.g. "cpython-311".
	CacheTag    string `json:"cache_tag"`
	SOABI       string `json:"soabi"`
	ExtSuffix   string `json:"ext_suffix"`
	PyDebug     bool   `json:"py_debug"`
	GILDisabled bool   `json:"gil_disabled"`
	PointerBits int    `json:"pointer_bits"`
	// Platform is sysconfig.get_platform(), e.g. "linux-x86_64".
	Platform string `json:"platform"`
	Machine  string `json:"machine"`
	// Glibc is os.confstr("CS_GNU_LIBC_VERSION"), e.g. "glibc 2.36"; empty
	// on other C libraries.
	Glibc string `json:"glibc"`
	// Scheme names the sysconfig scheme Paths came from.
	Scheme string `json:"scheme"`
	// Paths are the install scheme's directories relative to a venv root
	// (purelib, platlib, scripts, include, data, ...), with "/" separators.
	Paths map[string]string `json:"paths"`
	// VenvScripts is the stdlib folder of activate script templates.
	VenvScripts string `json:"venv_scripts"`
	// VenvQuotes says whether venv shell-quotes the values it substitutes
	// into activate scripts (CPython 3.13.1+, and backports).
	VenvQuotes bool `json:"venv_quotes"`
	// BundledWheels are ensurepip's wheels (pip, setuptools) if present.
	BundledWheels []string `json:"bundled_wheels"`
	// Magic is importlib.util.MAGIC_NUMBER in hex.
	Magic string `json:"magic"`
	// Markers is the PEP 508 marker environment.
	Markers map[string]string `json:"markers"`
}

// Probe runs the interpreter once and returns what it reports.
func Probe(ctx context.Context, python string) (*Target, error) {
	exe, err := exec.LookPath(python)
	if err != nil {
		return nil, fmt.Errorf("find python interpreter %q: %w", python, err)
	}
	if !strings.HasPrefix(exe, "/") {
		if abs, err := absPath(exe); err == nil {
			exe = abs
		}
	}
	cmd := exec.CommandContext(ctx, exe, "-I", "-S", "-c", probeScript)
	cmd.Env = CleanEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 600 {
			msg = "..." + msg[len(msg)-600:]
		}
		return nil, fmt.Errorf("probe python interpreter %q: %w: %s", exe, err, msg)
	}
	return Decode(stdout.Bytes(), exe)
}

// ProbeScript is the Python program Probe runs (stdlib only; prints one
// JSON object). Run it elsewhere, e.g. on a remote machine with
// `python3 -I -S probe.py`, and pass its output to Decode.
func ProbeScript() []byte { return []byte(probeScript) }

// Decode builds a Target from ProbeScript's output; exe is the interpreter
// path it ran as.
func Decode(out []byte, exe string) (*Target, error) {
	var t Target
	if err := json.Unmarshal(out, &t); err != nil {
		return nil, fmt.Errorf("probe python interpreter %q: decode its answer: %w", exe, err)
	}
	if t.Version[0] != 3 || t.Version[1] < 7 {
		return nil, fmt.Errorf("python interpreter %q is Python %d.%d: pipbake needs Python 3.7 or newer", exe, t.Version[0], t.Version[1])
	}
	t.Executable = exe
	for _, k := range []string{"purelib", "platlib", "scripts"} {
		if t.Paths[k] == "" {
			return nil, fmt.Errorf("probe python interpreter %q: scheme %q has no %s path inside the environment", exe, t.Scheme, k)
		}
	}
	return &t, nil
}

func absPath(p string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + "/" + p, nil
}

// CleanEnv returns env without the variables that change how Python or pip
// behave (PYTHON*, PIP_*), so a probe, a compile or a pip run sees the
// interpreter as it is.
func CleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "PIP_") || strings.HasPrefix(kv, "__PYVENV_LAUNCHER__") || strings.HasPrefix(kv, "VIRTUAL_ENV=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// MajorMinor returns "3.11".
func (t *Target) MajorMinor() string {
	return strconv.Itoa(t.Version[0]) + "." + strconv.Itoa(t.Version[1])
}

// Spec returns the tag facts of the interpreter.
func (t *Target) Spec() (tags.Spec, error) {
	s := tags.Spec{Major: t.Version[0], Minor: t.Version[1], FreeThreaded: t.GILDisabled}
	switch t.Implementation {
	case "cpython":
		s.Implementation = "cp"
		if rest, ok := strings.CutPrefix(t.SOABI, "cpython-"); ok {
			ver, _, _ := strings.Cut(rest, "-")
			s.ABIs = []string{"cp" + ver}
		} else {
			abi := s.Interpreter()
			if t.PyDebug {
				abi += "d"
			}
			if t.GILDisabled {
				abi += "t"
			}
			s.ABIs = []string{abi}
		}
	case "pypy":
		s.Implementation = "pp"
		parts := strings.Split(t.SOABI, "-")
		if len(parts) >= 2 {
			s.ABIs = []string{parts[0] + "_" + parts[1]}
		}
	default:
		s.Implementation = t.Implementation
		if t.SOABI != "" {
			s.ABIs = []string{strings.ReplaceAll(strings.ReplaceAll(t.SOABI, "-", "_"), ".", "_")}
		}
	}
	plats, err := t.platforms()
	if err != nil {
		return tags.Spec{}, err
	}
	s.Platforms = plats
	return s, nil
}

func (t *Target) platforms() ([]string, error) {
	plat := strings.ToLower(strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(t.Platform))
	arch, isLinux := strings.CutPrefix(plat, "linux_")
	if !isLinux {
		return []string{plat}, nil
	}
	if t.PointerBits == 32 {
		switch arch {
		case "x86_64":
			arch = "i686"
		case "aarch64":
			arch = "armv8l"
		}
	}
	glibc := -1
	if rest, ok := strings.CutPrefix(t.Glibc, "glibc "); ok {
		_, minor, found := strings.Cut(rest, ".")
		if !found {
			return nil, fmt.Errorf("python interpreter %q reports an unexpected glibc version %q", t.Executable, t.Glibc)
		}
		m, err := strconv.Atoi(minor)
		if err != nil {
			return nil, fmt.Errorf("python interpreter %q reports an unexpected glibc version %q: %w", t.Executable, t.Glibc, err)
		}
		glibc = m
	}
	return tags.LinuxPlatforms(arch, glibc, -1), nil
}

// Tags returns the supported tags, best first.
func (t *Target) Tags() ([]tags.Tag, error) {
	s, err := t.Spec()
	if err != nil {
		return nil, err
	}
	return s.Supported(), nil
}

// ErrNoPython reports that no interpreter was given or found.
var ErrNoPython = errors.New("no python interpreter")
