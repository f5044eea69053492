package cli

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
	"github.com/pipbake/packer-plugin-pipbake/internal/session"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

func versionString() string { return "pipbake " + version.String() }

var versionHelp = commandHelp{
	name:    "version",
	does:    "print pipbake's version",
	forms:   []string{"[--json]"},
	example: "pipbake version",
}

func cmdVersion(_ context.Context, s stdio, args []string) error {
	fs := versionHelp.flags(s)
	asJSON := fs.Bool("json", false, "print the version, Go version and platform as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(s.stdout, map[string]string{"version": version.String(), "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH})
	}
	fmt.Fprintln(s.stdout, versionString())
	return nil
}

var installHelp = commandHelp{
	name: "install",
	does: "install locked sets from a wheelhouse as a new release of each root, switched to all at once",
	forms: []string{
		"--lock FILE --wheelhouse DIR --root DIR [--python PATH] [--release ID] [--json]   one set",
		"-f pipbake.hcl [--release ID] [--wheelhouse DIR] [--json]                         every set of a plan",
	},
	example: "pipbake install --lock api.txt --wheelhouse wheels --root /opt/api --python /usr/bin/python3.11",
	more: `A release is <root>/releases/<id>/ with a receipt and an SBOM;
<root>/current switches to it only when every set installed and checked.
A failure leaves every current as it was.`,
}

// installFlags are install's flags, parsed.
type installFlags struct {
	// What: a plan, or one set.
	plan                                                    string
	lock, root, name, python, node, app, installer, release string
	wheelhouse, tarballs                                    string
	includeDev, noCompile                                   bool
	keep                                                    int
	scriptsAllow                                            repeatedFlag

	// Receipts, attestations, services.
	receipts       string
	templateSums   repeatedFlag
	provenancePlan bool
	sysroot        string

	// Caches and speed.
	jobs                                              int
	bytecodeCache, bytecodeReturn, npmCache, cacheDir string
	npmLink                                           bool

	// Output, and the provisioner's session.
	asJSON, quiet, sessionStdin bool
	resultFile, sessionStaging  string
}

func defineInstallFlags(fs *flagSet) *installFlags {
	f := &installFlags{}
	fs.StringVar(&f.plan, "f", "", "install every set of a `pipbake.hcl` plan")
	fs.StringVar(&f.lock, "lock", "", "lock `file`: hashed requirements or pylock.toml")
	fs.StringVar(&f.wheelhouse, "wheelhouse", "", "`folder` of wheels (from pipbake fetch), or a tar archive of them (read in place)")
	fs.StringVar(&f.root, "root", "", "release root `folder`: <root>/releases/<id>, <root>/current")
	fs.StringVar(&f.name, "name", "", "set name for receipts (default: the root's base name)")
	fs.StringVar(&f.python, "python", "python3", "target `interpreter`")
	fs.StringVar(&f.node, "node", "node", "target `node` of a Node set (a package-lock.json or npm-shrinkwrap.json lock)")
	fs.StringVar(&f.tarballs, "tarballs", "", "`folder` of npm tarballs (from pipbake fetch) for a Node set, or a tar archive of them (default: --wheelhouse)")
	fs.StringVar(&f.app, "app", "", "a Node set's app: its `tarball` as npm pack makes it, unpacked at the release root")
	fs.BoolVar(&f.includeDev, "include-dev", false, "a Node set's dev dependencies too")
	fs.Var(&f.scriptsAllow, "scripts-allow", "run the install scripts of this npm `package` of a Node set (repeatable)")
	fs.StringVar(&f.release, "release", "", "release `id` (default: UTC time and lock hash prefix)")
	fs.IntVar(&f.keep, "keep", 0, "keep the newest `N` releases (default 5)")
	fs.BoolVar(&f.noCompile, "no-compile", false, "do not write bytecode")
	fs.StringVar(&f.installer, "installer", install.Native, "`native` or pip")
	fs.StringVar(&f.receipts, "receipts-dir", "", "also copy each receipt into this `folder` (e.g. /var/lib/pipbake/receipts), and keep each set's attestations in the attestations folder beside it")
	fs.Var(&f.templateSums, "template-sha256", "with --receipts-dir, name this Packer template file in the sets' provenance, as `NAME=SHA256` (repeatable; the provisioner gives them)")
	fs.BoolVar(&f.provenancePlan, "provenance-plan", true, "with --receipts-dir and -f, name the plan file by sha256 in the sets' provenance (pipbake-oci turns it off: a set's layer then depends on that set only, and the image's provenance names the plan)")
	fs.StringVar(&f.sysroot, "system-root", "/", "system `root` for service units and users (a chroot or image root)")
	fs.IntVar(&f.jobs, "jobs", 0, "extract with `N` goroutines (default 4 per CPU)")
	fs.StringVar(&f.bytecodeCache, "bytecode-cache", "", "copy .pyc files from (and store new ones in) this bytecode cache `folder`, or off (default $"+pyccache.Env+", else ~/.cache/pipbake/bytecode)")
	fs.StringVar(&f.bytecodeReturn, "bytecode-return", "", "when done, move the .pyc files compiled into the bytecode cache into this pack `file`, readable by all, and out of the cache (the provisioner brings them back)")
	fs.StringVar(&f.npmCache, "npm-cache", "", "lay a Node set's packages out from (and store new ones in) this store of unpacked packages, `folder`, or off (default $"+npmstore.Env+", else ~/.cache/pipbake/npm)")
	fs.BoolVar(&f.npmLink, "npm-link", os.Getenv(npmstore.LinkEnv) == "1", "lay a Node set's packages out as hard links to the npm store's copies of their files, as pnpm does: nothing is written but the links, but the release shares its files with the store and with every release linked from it, so a file changed in place in one changes in all (default $"+npmstore.LinkEnv+" = 1; needs the store on the root's file system, and no scripts_allow)")
	fs.StringVar(&f.cacheDir, "cache-dir", os.Getenv(install.ReleaseCacheEnv), "restore unchanged sets from (and store new ones in) this release cache `folder` (default $"+install.ReleaseCacheEnv+")")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&f.resultFile, "result-file", "", "once every set is current, also write the result as JSON (what --json prints) to this `file`, readable by all (the provisioner brings it back with the receipts); failing to is only a warning")
	fs.BoolVar(&f.quiet, "quiet", false, "print only errors")
	fs.BoolVar(&f.sessionStdin, "session-stdin", false, "run in a session with the Packer provisioner over stdin and stdout (internal/session): stop, before switching current, when stdin ends after a first line "+strconv.Quote(session.Hello)+", and switch only when the provisioner agrees")
	fs.StringVar(&f.sessionStaging, "session-staging", "", "when cancelled, also remove the provisioner's staging `folder` (the agent, the plan, the locks and the bundle in it; then the folder if empty)")
	return f
}

// installWork is what install does: the sets, and what the plan asks of
// each beyond its release.
type installWork struct {
	sets         []install.Set
	services     map[string]*plan.Service // by set name
	verifyOnBoot map[string]bool          // by set name
	planSum      *attest.File             // the plan's sha256, for the provenance
}

func cmdInstall(ctx context.Context, s stdio, args []string) error {
	fs := installHelp.flags(s)
	f := defineInstallFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	var sess *session.Agent
	if f.sessionStdin {
		var stop context.CancelFunc
		if file, ok := s.stdin.(*os.File); ok {
			session.Quiet(file)
		}
		sess, ctx, stop = session.Watch(ctx, s.stdin, s.stdout)
		defer stop()
	}
	if f.sessionStaging != "" && f.plan != "" {
		defer func() {
			if ctx.Err() != nil {
				removeStaging(f.sessionStaging, f.plan, f.bytecodeCache, f.bytecodeReturn)
			}
		}()
	}
	var log io.Writer = s.stderr
	if f.sessionStdin { // run by the provisioner: lines of Packer's UI, even behind ssh_pty
		log = progress.Plain(s.stderr)
	}
	if f.quiet || f.asJSON {
		log = nil
	}
	opts := install.Options{Release: f.release, Wheelhouse: f.wheelhouse, Tarballs: f.tarballs, ReceiptsDir: f.receipts, Log: log, Version: version.String(), Jobs: f.jobs, ReleaseCache: f.cacheDir,
		BytecodeCache: pyccache.Dir(f.bytecodeCache), BytecodeCacheTransient: f.bytecodeReturn != "",
		NpmStore: npmstore.Dir(f.npmCache), NpmLink: f.npmLink}
	if f.bytecodeReturn != "" && opts.BytecodeCache != "" {
		defer func() {
			if ctx.Err() == nil { // cancelled: nothing goes back
				returnBytecode(opts.BytecodeCache, f.bytecodeReturn, log)
			}
		}()
	}
	templates, err := parseTemplateSums(f.templateSums)
	if err != nil {
		return err
	}
	w, err := f.work(&opts)
	if err != nil {
		return err
	}
	// Stage every set, then make them all current together, the service
	// units and users made before any switch: a failure in any set leaves
	// every root as it was.
	staged, err := install.StageAll(ctx, w.sets, opts)
	if err != nil {
		if ctx.Err() != nil {
			return cancelled(ctx, err)
		}
		return err
	}
	if err := maySwitch(ctx, s, sess, staged); err != nil {
		return err
	}
	steps := w.commitSteps(f.sysroot)
	if f.receipts != "" { // attestations.go
		for i := range steps {
			steps[i] = chainSteps(statementsStep(f.receipts, w.planSum, templates, log), steps[i])
		}
	}
	results, err := install.CommitAll(staged, steps)
	if err != nil {
		return err
	}
	return f.report(s, results)
}

// work reads the sets from the plan (-f), which also fills what opts
// lacks, or from the flags of one set.
func (f *installFlags) work(opts *install.Options) (*installWork, error) {
	w := &installWork{services: map[string]*plan.Service{}, verifyOnBoot: map[string]bool{}}
	if f.plan == "" {
		var missing []string
		for flagName, v := range map[string]string{"--lock": f.lock, "--wheelhouse": f.wheelhouse + f.tarballs, "--root": f.root} {
			if v == "" {
				if flagName == "--wheelhouse" {
					flagName = "--wheelhouse (or --tarballs)"
				}
				missing = append(missing, flagName)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, usageErr("install: missing %v (or use -f pipbake.hcl)", missing)
		}
		w.sets = append(w.sets, install.Set{Name: f.name, Lock: f.lock, Python: f.python, Root: f.root,
			Keep: f.keep, Compile: !f.noCompile, Installer: f.installer, Node: f.node,
			App: f.app, IncludeDev: f.includeDev, ScriptsAllow: f.scriptsAllow})
		return w, nil
	}
	if f.lock != "" || f.root != "" || f.app != "" || f.includeDev || len(f.scriptsAllow) > 0 {
		return nil, usageErr("install: -f takes the sets from the plan; do not also give --lock, --root, --app, --include-dev or --scripts-allow")
	}
	// Read once: the plan parsed is the plan hashed for the provenance
	// (attestations.go).
	src, err := os.ReadFile(f.plan)
	if err != nil {
		return nil, fmt.Errorf("read plan file: %w", err)
	}
	pl, err := plan.Parse(f.plan, src)
	if err != nil {
		return nil, err
	}
	if f.provenancePlan {
		w.planSum = &attest.File{Name: filepath.Base(f.plan), SHA256: attest.SHA256Hex(src)}
	}
	opts.Release = cmp.Or(opts.Release, pl.Release)
	opts.Wheelhouse = cmp.Or(opts.Wheelhouse, pl.Wheelhouse)
	opts.Tarballs = cmp.Or(opts.Tarballs, pl.Tarballs)
	if opts.Wheelhouse == "" && opts.Tarballs == "" {
		return nil, usageErr("install: no wheelhouse: give --wheelhouse (or --tarballs) or set wheelhouse (or tarballs) in the plan")
	}
	for _, s := range pl.Sets {
		if s.Service != nil {
			w.services[s.Name] = s.Service
		}
		w.verifyOnBoot[s.Name] = s.VerifyOnBoot
		w.sets = append(w.sets, install.Set{Name: s.Name, Lock: s.Lock, Python: s.Python, Root: s.Root,
			Keep: s.KeepOrDefault(), Compile: s.CompileOrDefault(), Installer: s.Installer,
			Kind: s.Kind, Node: s.Node, IncludeDev: s.IncludeDev, ScriptsAllow: s.ScriptsAllow, App: s.App})
	}
	return w, nil
}

// maySwitch is the last moment to stop: a cancelled install (a signal,
// or the session that started it gone) never switches, and in a session
// it switches only once the provisioner agrees, so that it knows, should
// the build be cancelled, whether this happened. Staging may have
// finished its last steps without looking at ctx; what follows (units,
// receipt copies, the switches) takes milliseconds and is not
// interrupted, so the sets stay all old or all new. When it may not,
// every staged release is removed.
func maySwitch(ctx context.Context, s stdio, sess *session.Agent, staged []*install.Staged) error {
	holdBeforeSwitch(ctx, s.stderr)
	allowed := context.Cause(ctx)
	if sess != nil {
		allowed = sess.Switch(ctx)
	}
	if allowed == nil {
		return nil
	}
	for _, st := range staged {
		_ = st.Abort()
	}
	if ctx.Err() != nil {
		return cancelled(ctx, nil)
	}
	return fmt.Errorf("%w; every set's current release is as it was and the new release was removed", allowed)
}

// commitSteps are the steps CommitAll takes for each set before the
// switch: its verify-on-boot unit and its service, as the plan asks.
func (w *installWork) commitSteps(sysroot string) []install.Step {
	steps := make([]install.Step, len(w.sets))
	for i, s := range w.sets {
		svc, verify := w.services[s.Name], w.verifyOnBoot[s.Name]
		if svc == nil && !verify {
			continue
		}
		steps[i] = func(res *install.Result) (func() error, error) {
			var undo func() error = func() error { return nil }
			if verify { // verify_on_boot: verify_boot.go
				var err error
				if undo, err = enableVerifyOnBoot(sysroot, res, svc != nil); err != nil {
					return nil, err
				}
			}
			if svc == nil {
				return undo, nil
			}
			progs := service.ProgramsOf(res.Receipt.Runtime(), res.Receipt.Interpreter.Path)
			en, err := service.Enable(service.Options{SysRoot: sysroot, VerifyOnBoot: verify, Programs: progs}, res.Set, res.Root, svc)
			if err != nil {
				undo()
				return nil, err
			}
			res.Unit = en.Unit
			return func() error { return errors.Join(en.Undo(), undo()) }, nil
		}
	}
	return steps
}

// report says what was installed (or prints it as JSON), and writes the
// result file.
func (f *installFlags) report(s stdio, results []*install.Result) error {
	for _, res := range results {
		if f.asJSON || f.quiet {
			break
		}
		if res.Skipped {
			fmt.Fprintf(s.stdout, "%s: release %s is already current in %s (verified)\n", res.Set, res.Release, res.Root)
		} else {
			fmt.Fprintf(s.stdout, "%s: installed release %s in %s (%d distributions, %d files, %.2fs)\n",
				res.Set, res.Release, res.Root, len(res.Receipt.Distributions), res.Receipt.Files, res.Duration.Seconds())
		}
		if res.Unit != "" {
			fmt.Fprintf(s.stdout, "%s: service enabled for the next boot: %s\n", res.Set, res.Unit)
		}
	}
	if f.resultFile != "" {
		if err := writeResultFile(f.resultFile, results); err != nil {
			// Every set is current: the install stands.
			fmt.Fprintf(s.stderr, "pipbake: warning: %v\n", err)
		}
	}
	if f.asJSON {
		return printJSON(s.stdout, results)
	}
	return nil
}

// writeResultFile writes the results as JSON to p (install --result-file),
// readable by all, by rename: a reader sees the whole file or none.
func writeResultFile(p string, results []*install.Result) error {
	var buf bytes.Buffer
	if err := printJSON(&buf, results); err != nil {
		return fmt.Errorf("write the result file %s: %w", p, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write the result file %s: %w", p, err)
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write the result file %s: %w", p, err)
	}
	return nil
}

// removeStaging removes what the provisioner put in its staging folder
// dir for this install (the plan, its locks and wheelhouse, this agent,
// the bytecode cache folder and pack it named there), then the folders
// left empty: never anything else, whatever dir is.
func removeStaging(dir, planFile string, bytecode ...string) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	inside := func(p string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && rel != "." && filepath.IsLocal(rel)
	}
	var files []string
	if pl, err := plan.Load(planFile); err == nil {
		files = append(files, pl.Wheelhouse, pl.Tarballs)
		for _, s := range pl.Sets {
			files = append(files, s.Lock)
			if s.KindOrDefault() == plan.KindNode { // its files beside the lock
				files = append(files, s.App, filepath.Join(filepath.Dir(s.Lock), "package.json"))
			}
		}
	}
	if self, err := os.Executable(); err == nil {
		files = append(files, self)
	}
	if p, err := filepath.Abs(planFile); err == nil {
		files = append(files, p)
	}
	for _, b := range bytecode {
		if p, err := filepath.Abs(b); err == nil && b != "" && inside(p) {
			_ = os.RemoveAll(p) // the cache folder: the pack the bundle brought, what this agent compiled
		}
	}
	parents := map[string]bool{}
	for _, f := range files {
		if f == "" || !inside(f) {
			continue
		}
		if st, err := os.Lstat(f); err == nil && !st.IsDir() {
			_ = os.Remove(f)
		}
		for d := filepath.Dir(f); inside(d); d = filepath.Dir(d) {
			parents[d] = true
		}
	}
	dirs := make([]string, 0, len(parents))
	for d := range parents {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) }) // deepest first
	for _, d := range dirs {
		_ = os.Remove(d) // only when empty
	}
	_ = os.Remove(dir)
}

// cancelled is the error of an install stopped before its switch.
func cancelled(ctx context.Context, err error) error {
	msg := fmt.Sprintf("cancelled before switching current (%v); every set's current release is as it was and the new release was removed", context.Cause(ctx))
	if err != nil && !errors.Is(err, context.Canceled) {
		msg += ": " + err.Error()
	}
	return errors.New(msg)
}

// HoldEnv names a file an install creates (holding its process id) once
// every set is staged, before it switches current, and then waits until
// the file is removed or the install is cancelled. For tests only (the
// end-to-end cancel test stops a bake at that point); unset otherwise.
const HoldEnv = "PIPBAKE_TEST_HOLD_BEFORE_SWITCH"

func holdBeforeSwitch(ctx context.Context, stderr io.Writer) {
	p := os.Getenv(HoldEnv)
	if p == "" {
		return
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintf(stderr, "pipbake: %s: %v\n", HoldEnv, err)
		return
	}
	fmt.Fprintf(stderr, "pipbake: holding before the switch until %s is removed\n", p)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for ctx.Err() == nil {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
