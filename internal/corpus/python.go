package corpus

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SourceVersion is the pyenv version whose site-packages is the corpus
// when PIPBAKE_CORPUS_PYTHON is unset.
const SourceVersion = "3.11.7"

// Interpreter holds the facts about a Python interpreter that repacking and
// building need. Inspect fills it by running the interpreter.
type Interpreter struct {
	Path           string   `json:"-"`
	Executable     string   `json:"executable"`
	Version        string   `json:"version"`      // "3.11.7"
	FullVersion    string   `json:"full_version"` // sys.version
	Implementation string   `json:"implementation"`
	Major          int      `json:"major"`
	Minor          int      `json:"minor"`
	Prefix         string   `json:"prefix"`
	Purelib        string   `json:"purelib"`
	Platlib        string   `json:"platlib"`
	Scripts        string   `json:"scripts"`
	Data           string   `json:"data"`
	Include        string   `json:"include"`
	ExtSuffix      string   `json:"ext_suffix"` // ".cpython-311-x86_64-linux-gnu.so"
	Platform       string   `json:"platform"`   // sysconfig.get_platform(), "linux-x86_64"
	BundledDirs    []string `json:"bundled_dirs"`
}

// Tag returns the interpreter tag, e.g. "cp311".
func (in *Interpreter) Tag() string {
	impl := in.Implementation
	switch impl {
	case "cpython":
		impl = "cp"
	case "pypy":
		impl = "pp"
	}
	return fmt.Sprintf("%s%d%d", impl, in.Major, in.Minor)
}

// ID returns a short identifier of this interpreter installation (its
// executable and exact build), for keeping per-interpreter outputs apart in
// a cache shared by interpreters with the same Tag.
func (in *Interpreter) ID() string {
	sum := sha256.Sum256([]byte(in.Executable + "\x00" + in.FullVersion))
	return in.Tag() + "-" + hex.EncodeToString(sum[:6])
}

// PlatformTag returns the platform tag of binaries built for the
// interpreter, e.g. "linux_x86_64".
func (in *Interpreter) PlatformTag() string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(in.Platform)
}

//go:embed interp.py
var interpScript string

// Inspect runs python and reports its version, install scheme and where its
// bundled ensurepip wheels are.
func Inspect(ctx context.Context, python string) (*Interpreter, error) {
	out, err := Output(ctx, python, "-I", "-c", interpScript)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", python, err)
	}
	in := &Interpreter{Path: python}
	if err := json.Unmarshal(out, in); err != nil {
		return nil, fmt.Errorf("inspect %s: decode %q: %w", python, out, err)
	}
	return in, nil
}

// CleanEnv returns the current environment without any PIP_* or PYTHON*
// variable, followed by extra ("KEY=value"), for running Python and pip
// with nothing but what the caller chose.
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PIP_") || strings.HasPrefix(kv, "PYTHON") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Command returns a command running python with args in CleanEnv().
func Command(ctx context.Context, python string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = CleanEnv()
	return cmd
}

// Output runs python with args in a clean environment and returns its
// standard output; a failure carries the standard error.
func Output(ctx context.Context, python string, args ...string) ([]byte, error) {
	cmd := Command(ctx, python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// PyenvRoot returns $PYENV_ROOT, or ~/.pyenv.
func PyenvRoot() string {
	if r := os.Getenv("PYENV_ROOT"); r != "" {
		return r
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".pyenv"
	}
	return filepath.Join(home, ".pyenv")
}

// PyenvPython returns the path of pyenv's interpreter for a full version
// such as "3.11.7": $(pyenv root)/versions/3.11.7/bin/python3.11. It does
// not check that it exists.
func PyenvPython(version string) string {
	parts := strings.SplitN(version, ".", 3)
	minor := version
	if len(parts) >= 2 {
		minor = parts[0] + "." + parts[1]
	}
	return filepath.Join(PyenvRoot(), "versions", version, "bin", "python"+minor)
}

// FindPyenvPython returns the newest pyenv interpreter of a minor version
// such as "3.8" that exists on this machine.
func FindPyenvPython(minor string) (string, error) {
	entries, err := os.ReadDir(filepath.Join(PyenvRoot(), "versions"))
	if err != nil {
		return "", fmt.Errorf("find pyenv python %s: %w", minor, err)
	}
	var found []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), minor+".") {
			if patch, err := strconv.Atoi(strings.TrimPrefix(e.Name(), minor+".")); err == nil {
				if p := PyenvPython(e.Name()); isFile(p) {
					found = append(found, fmt.Sprintf("%06d %s", patch, p))
				}
			}
		}
	}
	if len(found) == 0 {
		return "", fmt.Errorf("find pyenv python %s: none under %s", minor, filepath.Join(PyenvRoot(), "versions"))
	}
	sort.Strings(found)
	_, p, _ := strings.Cut(found[len(found)-1], " ")
	return p, nil
}

// DefaultPython returns the corpus interpreter: $PIPBAKE_CORPUS_PYTHON, or
// pyenv's SourceVersion.
func DefaultPython() string {
	if p := os.Getenv("PIPBAKE_CORPUS_PYTHON"); p != "" {
		return p
	}
	return PyenvPython(SourceVersion)
}

// DefaultDir returns the cache directory for an interpreter tag:
// $PIPBAKE_CORPUS_DIR, or ~/.cache/pipbake-dev/corpus/<tag>.
func DefaultDir(tag string) (string, error) {
	if d := os.Getenv("PIPBAKE_CORPUS_DIR"); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("corpus cache dir: %w", err)
	}
	return filepath.Join(cache, "pipbake-dev", "corpus", tag), nil
}

// checkPython fails with a clear message when python is not an executable
// file.
func checkPython(python string) error {
	fi, err := os.Stat(python)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("python %s not found (set PIPBAKE_CORPUS_PYTHON or install pyenv %s)", python, SourceVersion)
		}
		return fmt.Errorf("python %s: %w", python, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("python %s is not an executable file", python)
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
