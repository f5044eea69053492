// Package packertest runs the real Packer against pipbake's plugin, for
// end-to-end tests.
//
// It finds the packer binary that .ci/tools.sh builds and caches ($PIPBAKE_PACKER,
// else ${PIPBAKE_DEV_CACHE:-~/.cache/pipbake-dev}/tools/bin/packer), builds
// cmd/packer-plugin-pipbake, installs it into a fresh PACKER_PLUGIN_PATH with
// `packer plugins install --path`, and runs packer commands in a clean
// environment: an allowlist of the caller's variables (PATH, locale, TMPDIR;
// never PIP_*, PYTHON*, PACKER_*, PKR_VAR_*), a private HOME and
// PACKER_CONFIG_DIR, CHECKPOINT_DISABLE=1 and PACKER_NO_COLOR=1.
//
//	p := packertest.New(t)            // skips when packer is missing
//	p.InstallPlugin()                 // build and install packer-plugin-pipbake
//	tpl := p.WriteFile("t.pkr.hcl", src)
//	p.Init(tpl).Must(t)
//	p.Build(tpl).Must(t)
//
// Packer's output streams to the test log (go test -v shows it live) and is
// returned in a Result with the exit code. PACKER_LOG=1 is passed when
// Options.Log is set or PIPBAKE_PACKER_LOG is set.
//
// Packer 1.16's plugin rules, which InstallPlugin follows:
//   - `packer plugins install --path BIN github.com/pipbake/pipbake` runs
//     `BIN describe` and names the installed copy from the source address and
//     the described version: packer-plugin-pipbake_v<version>_x5.0_<os>_<arch>
//     (plus a _SHA256SUM file) under PLUGIN_PATH/github.com/pipbake/pipbake/.
//     The binary's own file name does not matter.
//   - The described version may have no prerelease or exactly "dev".
//   - At load time the version in the file name must equal the described one.
//   - `packer init` only counts installed releases (it ignores -dev
//     binaries, and would then try to download the plugin), so by default
//     InstallPlugin builds the plugin as a release (internal/version's
//     Prerelease set to ""). Options.PluginVersion chooses another version.
package packertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// PluginSource is the plugin's Packer source address.
const PluginSource = "github.com/pipbake/pipbake"

// pluginPackage is the plugin's Go package.
const pluginPackage = "github.com/pipbake/packer-plugin-pipbake/cmd/packer-plugin-pipbake"

// CacheDir is the developer cache root: $PIPBAKE_DEV_CACHE, else
// ~/.cache/pipbake-dev.
func CacheDir() string {
	if d := os.Getenv("PIPBAKE_DEV_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "pipbake-dev")
	}
	return filepath.Join(home, ".cache", "pipbake-dev")
}

// FindPacker returns the packer binary: $PIPBAKE_PACKER, else the one
// .ci/tools.sh cached under CacheDir()/tools/bin.
func FindPacker() (string, error) {
	p := os.Getenv("PIPBAKE_PACKER")
	from := "PIPBAKE_PACKER"
	if p == "" {
		p = filepath.Join(CacheDir(), "tools", "bin", "packer")
		from = "the tools cache"
	}
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("packertest: no packer at %s (from %s); run .ci/tools.sh to build it, or set PIPBAKE_PACKER", p, from)
	}
	return p, nil
}

// InstallAmazon installs packer-plugin-amazon as .ci/tools.sh builds it
// (PIPBAKE_TOOLS=amazon): $PIPBAKE_PACKER_PLUGIN_AMAZON, else the tools
// cache. Without it tb skips, or fails when testenv.Required(); tb may be a
// subtest of the Packer's test.
func (p *Packer) InstallAmazon(tb testing.TB) {
	tb.Helper()
	bin := os.Getenv("PIPBAKE_PACKER_PLUGIN_AMAZON")
	if bin == "" {
		bin = filepath.Join(CacheDir(), "tools", "bin", "packer-plugin-amazon")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		testenv.Missing(tb, "packertest: no packer-plugin-amazon at %s; run PIPBAKE_TOOLS=amazon .ci/tools.sh, or set PIPBAKE_PACKER_PLUGIN_AMAZON", bin)
	}
	p.Run("plugins", "install", "--path", bin, "github.com/hashicorp/amazon").Must(tb)
}

// Options configure New.
type Options struct {
	// Packer is the binary to run; default FindPacker().
	Packer string
	// Log sets PACKER_LOG=1 (Packer's debug log, on stderr, so in the
	// output); also on when PIPBAKE_PACKER_LOG is set.
	Log bool
	// Env adds KEY=VALUE variables to every packer run (after the clean
	// ones, so they win).
	Env []string
	// Timeout bounds each packer command; default 10 minutes.
	Timeout time.Duration
	// PluginVersion is the version the plugin is built with (and so
	// describes and is installed as), e.g. "0.1.0" or "0.1.0-dev"; default
	// internal/version.Version as a release, which `packer init` accepts.
	PluginVersion string
	// Quiet keeps packer's output out of the test log (it is still in the
	// Result).
	Quiet bool
}

// Packer runs packer for one test, in its own directories.
type Packer struct {
	// Bin is the packer binary.
	Bin string
	// Dir is the working directory of every command (a temp dir);
	// WriteFile writes there.
	Dir string
	// PluginDir is PACKER_PLUGIN_PATH.
	PluginDir string
	// Home is HOME and PACKER_CONFIG_DIR for packer.
	Home string
	// Plugin is the installed plugin binary, once InstallPlugin ran.
	Plugin string

	tb   testing.TB
	opts Options
}

// New prepares a Packer for tb: fresh working, plugin and home dirs under
// tb.TempDir(). Without a packer binary it skips the test, or fails it if
// testenv.Required(); under -short it skips.
func New(tb testing.TB, opts ...Options) *Packer {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	testenv.SkipShort(tb, "starts packer")
	if o.Packer == "" {
		bin, err := FindPacker()
		if err != nil {
			testenv.Missing(tb, "%v", err)
		}
		o.Packer = bin
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if os.Getenv("PIPBAKE_PACKER_LOG") != "" {
		o.Log = true
	}
	root := tb.TempDir()
	p := &Packer{
		Bin:       o.Packer,
		Dir:       filepath.Join(root, "work"),
		PluginDir: filepath.Join(root, "plugins"),
		Home:      filepath.Join(root, "home"),
		tb:        tb,
		opts:      o,
	}
	for _, d := range []string{p.Dir, p.PluginDir, p.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// Env is the environment packer runs with.
func (p *Packer) Env() []string {
	env := []string{
		"HOME=" + p.Home,
		"PACKER_CONFIG_DIR=" + p.Home,
		"PACKER_PLUGIN_PATH=" + p.PluginDir,
		"PACKER_CACHE_DIR=" + filepath.Join(p.Home, "packer_cache"),
		"CHECKPOINT_DISABLE=1",
		"PACKER_NO_COLOR=1",
	}
	for _, k := range []string{"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if p.opts.Log {
		env = append(env, "PACKER_LOG=1")
	}
	return append(env, p.opts.Env...)
}

// Result is one finished command.
type Result struct {
	Args     []string
	Output   string // stdout and stderr, interleaved as written
	ExitCode int    // -1 when it could not run or was killed
	Err      error  // nil when it exited 0
}

// OK reports a zero exit.
func (r Result) OK() bool { return r.Err == nil }

// Must fails tb (with the output) unless the command exited 0.
func (r Result) Must(tb testing.TB) Result {
	tb.Helper()
	if r.Err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(r.Args, " "), r.Err, r.Output)
	}
	return r
}

// Fails fails tb unless the command exited non-zero with output containing
// every want.
func (r Result) Fails(tb testing.TB, want ...string) Result {
	tb.Helper()
	if r.Err == nil {
		tb.Fatalf("%s succeeded, want a failure:\n%s", strings.Join(r.Args, " "), r.Output)
	}
	for _, w := range want {
		if !strings.Contains(r.Output, w) {
			tb.Errorf("%s: output lacks %q:\n%s", strings.Join(r.Args, " "), w, r.Output)
		}
	}
	return r
}

// Run runs packer with args in p.Dir, streaming its output to the test
// log.
func (p *Packer) Run(args ...string) Result {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	return p.RunContext(ctx, args...)
}

// RunContext is Run with a context; on cancellation packer gets an
// interrupt first, as on ^C: sent to its process group (packer runs in a
// group of its own), so it reaches the packer process that does the work
// as well as the one that watches it for panics, which ignores it (a
// terminal signals the whole foreground group). It is killed 30s later.
func (p *Packer) RunContext(ctx context.Context, args ...string) Result {
	p.tb.Helper()
	r := Result{Args: append([]string{"packer"}, args...), ExitCode: -1}
	var buf bytes.Buffer
	var w io.Writer = &buf
	if !p.opts.Quiet {
		p.tb.Logf("$ packer %s", strings.Join(args, " "))
		w = io.MultiWriter(&buf, p.tb.Output())
	}
	cmd := exec.CommandContext(ctx, p.Bin, args...)
	cmd.Dir = p.Dir
	cmd.Env = p.Env()
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = groupAttr()
	cmd.Cancel = func() error { return interruptGroup(cmd.Process) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	r.Output = buf.String()
	r.Err = err
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.ExitCode = ee.ExitCode()
	} else if err == nil {
		r.ExitCode = 0
	}
	if ctx.Err() != nil && err != nil {
		r.Err = fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	return r
}

// WriteFile writes content to name under p.Dir (creating folders) and
// returns its path.
func (p *Packer) WriteFile(name, content string) string {
	p.tb.Helper()
	path := filepath.Join(p.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.tb.Fatal(err)
	}
	return path
}

// BuildPlugin builds cmd/packer-plugin-pipbake into a temp dir, with the
// version from Options.PluginVersion (see there), and returns its path.
// It embeds no agent: its bakes build a lean agent from this checkout,
// named at link time for a -trimpath build (internal/agent's checkout;
// make test builds so).
func (p *Packer) BuildPlugin() string {
	p.tb.Helper()
	bin := filepath.Join(p.tb.TempDir(), "packer-plugin-pipbake")
	ver, pre := version.Version, ""
	if v := p.opts.PluginVersion; v != "" {
		ver, pre, _ = strings.Cut(v, "-")
	}
	ldflags := fmt.Sprintf("-X github.com/pipbake/packer-plugin-pipbake/internal/version.Version=%s -X github.com/pipbake/packer-plugin-pipbake/internal/version.Prerelease=%s -X github.com/pipbake/packer-plugin-pipbake/internal/agent.checkout=%s",
		ver, pre, testenv.ModuleDir(p.tb))
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, pluginPackage)
	cmd.Env = target.CleanEnv(os.Environ())
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		p.tb.Fatalf("go build %s: %v\n%s", pluginPackage, err, out)
	}
	p.tb.Logf("built %s (%s) in %v", bin, strings.TrimSuffix(ver+"-"+pre, "-"), time.Since(start).Round(time.Millisecond))
	return bin
}

// InstallPlugin builds the plugin (BuildPlugin) and installs it with
// `packer plugins install --path BIN github.com/pipbake/pipbake`; it
// returns the installed binary's path (also in p.Plugin).
func (p *Packer) InstallPlugin() string {
	p.tb.Helper()
	return p.InstallPluginBinary(p.BuildPlugin())
}

// InstallPluginBinary installs an already built plugin binary.
func (p *Packer) InstallPluginBinary(bin string) string {
	p.tb.Helper()
	p.Run("plugins", "install", "--path", bin, PluginSource).Must(p.tb)
	pattern := filepath.Join(p.PluginDir, filepath.FromSlash(PluginSource),
		fmt.Sprintf("packer-plugin-pipbake_v*_x*_%s_%s", runtime.GOOS, runtime.GOARCH))
	matches, _ := filepath.Glob(pattern)
	var found []string
	for _, m := range matches {
		if !strings.HasSuffix(m, "_SHA256SUM") {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		p.tb.Fatalf("after packer plugins install: %d binaries match %s: %v", len(found), pattern, found)
	}
	p.Plugin = found[0]
	return p.Plugin
}

// Init runs `packer init TEMPLATE`.
func (p *Packer) Init(template string) Result {
	p.tb.Helper()
	return p.Run("init", template)
}

// Validate runs `packer validate [args] TEMPLATE`.
func (p *Packer) Validate(template string, args ...string) Result {
	p.tb.Helper()
	return p.Run(append(append([]string{"validate"}, args...), template)...)
}

// Build runs `packer build [args] TEMPLATE`, with -color=false.
func (p *Packer) Build(template string, args ...string) Result {
	p.tb.Helper()
	return p.Run(append(append([]string{"build", "-color=false"}, args...), template)...)
}

// FmtCheck runs `packer fmt -check -diff -recursive PATH` (a file or a
// folder): it exits 3 and prints the diff when a file is not formatted.
func (p *Packer) FmtCheck(path string) Result {
	p.tb.Helper()
	return p.Run("fmt", "-check", "-diff", "-recursive", path)
}

// ValidateExample checks a template folder or file as users get it: packer
// fmt -check, packer init, then packer validate. The plugin must be
// installed first (InstallPlugin) if the example uses it. Extra args go to
// validate (e.g. "-var", "x=y", or "-syntax-only").
func (p *Packer) ValidateExample(path string, args ...string) {
	p.tb.Helper()
	p.FmtCheck(path).Must(p.tb)
	p.Init(path).Must(p.tb)
	p.Validate(path, args...).Must(p.tb)
}
