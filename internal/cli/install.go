package cli

import (
	"bytes"
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

func cmdInstall(ctx context.Context, s stdio, args []string) error {
	fs := installHelp.flags(s)
	planFile := fs.String("f", "", "install every set of a `pipbake.hcl` plan")
	lockFile := fs.String("lock", "", "lock `file`: hashed requirements or pylock.toml")
	wheelhouse := fs.String("wheelhouse", "", "`folder` of wheels (from pipbake fetch), or a tar archive of them (read in place)")
	root := fs.String("root", "", "release root `folder`: <root>/releases/<id>, <root>/current")
	name := fs.String("name", "", "set name for receipts (default: the root's base name)")
	python := fs.String("python", "python3", "target `interpreter`")
	node := fs.String("node", "node", "target `node` of a Node set (a package-lock.json or npm-shrinkwrap.json lock)")
	tarballs := fs.String("tarballs", "", "`folder` of npm tarballs (from pipbake fetch) for a Node set, or a tar archive of them (default: --wheelhouse)")
	app := fs.String("app", "", "a Node set's app: its `tarball` as npm pack makes it, unpacked at the release root")
	includeDev := fs.Bool("include-dev", false, "a Node set's dev dependencies too")
	var scriptsAllow repeatedFlag
	fs.Var(&scriptsAllow, "scripts-allow", "run the install scripts of this npm `package` of a Node set (repeatable)")
	rel := fs.String("release", "", "release `id` (default: UTC time and lock hash prefix)")
	keep := fs.Int("keep", 0, "keep the newest `N` releases (default 5)")
	noCompile := fs.Bool("no-compile", false, "do not write bytecode")
	installer := fs.String("installer", install.Native, "`native` or pip")
	receipts := fs.String("receipts-dir", "", "also copy each receipt into this `folder` (e.g. /var/lib/pipbake/receipts), and keep each set's attestations in the attestations folder beside it")
	var templateSums repeatedFlag
	fs.Var(&templateSums, "template-sha256", "with --receipts-dir, name this Packer template file in the sets' provenance, as `NAME=SHA256` (repeatable; the provisioner gives them)")
	provenancePlan := fs.Bool("provenance-plan", true, "with --receipts-dir and -f, name the plan file by sha256 in the sets' provenance (pipbake-oci turns it off: a set's layer then depends on that set only, and the image's provenance names the plan)")
	sysroot := fs.String("system-root", "/", "system `root` for service units and users (a chroot or image root)")
	jobs := fs.Int("jobs", 0, "extract with `N` goroutines (default 4 per CPU)")
	bytecodeCache := fs.String("bytecode-cache", "", "copy .pyc files from (and store new ones in) this bytecode cache `folder`, or off (default $"+pyccache.Env+", else ~/.cache/pipbake/bytecode)")
	bytecodeReturn := fs.String("bytecode-return", "", "when done, move the .pyc files compiled into the bytecode cache into this pack `file`, readable by all, and out of the cache (the provisioner brings them back)")
	npmCache := fs.String("npm-cache", "", "lay a Node set's packages out from (and store new ones in) this store of unpacked packages, `folder`, or off (default $"+npmstore.Env+", else ~/.cache/pipbake/npm)")
	npmLink := fs.Bool("npm-link", os.Getenv(npmstore.LinkEnv) == "1", "lay a Node set's packages out as hard links to the npm store's copies of their files, as pnpm does: nothing is written but the links, but the release shares its files with the store and with every release linked from it, so a file changed in place in one changes in all (default $"+npmstore.LinkEnv+" = 1; needs the store on the root's file system, and no scripts_allow)")
	cacheDir := fs.String("cache-dir", os.Getenv(install.ReleaseCacheEnv), "restore unchanged sets from (and store new ones in) this release cache `folder` (default $"+install.ReleaseCacheEnv+")")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	resultFile := fs.String("result-file", "", "once every set is current, also write the result as JSON (what --json prints) to this `file`, readable by all (the provisioner brings it back with the receipts); failing to is only a warning")
	quiet := fs.Bool("quiet", false, "print only errors")
	sessionStdin := fs.Bool("session-stdin", false, "run in a session with the Packer provisioner over stdin and stdout (internal/session): stop, before switching current, when stdin ends after a first line "+strconv.Quote(session.Hello)+", and switch only when the provisioner agrees")
	sessionStaging := fs.String("session-staging", "", "when cancelled, also remove the provisioner's staging `folder` (the agent, the plan, the locks and the bundle in it; then the folder if empty)")
	if err := fs.parse(args); err != nil {
		return err
	}
	var sess *session.Agent
	if *sessionStdin {
		var stop context.CancelFunc
		if f, ok := s.stdin.(*os.File); ok {
			session.Quiet(f)
		}
		sess, ctx, stop = session.Watch(ctx, s.stdin, s.stdout)
		defer stop()
	}
	if *sessionStaging != "" && *planFile != "" {
		defer func() {
			if ctx.Err() != nil {
				removeStaging(*sessionStaging, *planFile, *bytecodeCache, *bytecodeReturn)
			}
		}()
	}
	var log io.Writer = s.stderr
	if *sessionStdin { // run by the provisioner: lines of Packer's UI, even behind ssh_pty
		log = progress.Plain(s.stderr)
	}
	if *quiet || *asJSON {
		log = nil
	}
	opts := install.Options{Release: *rel, Wheelhouse: *wheelhouse, Tarballs: *tarballs, ReceiptsDir: *receipts, Log: log, Version: version.String(), Jobs: *jobs, ReleaseCache: *cacheDir,
		BytecodeCache: pyccache.Dir(*bytecodeCache), BytecodeCacheTransient: *bytecodeReturn != "",
		NpmStore: npmstore.Dir(*npmCache), NpmLink: *npmLink}
	if *bytecodeReturn != "" && opts.BytecodeCache != "" {
		defer func() {
			if ctx.Err() == nil { // cancelled: nothing goes back
				returnBytecode(opts.BytecodeCache, *bytecodeReturn, log)
			}
		}()
	}
	templates, err := parseTemplateSums(templateSums)
	if err != nil {
		return err
	}
	var planSum *attest.File // the plan's sha256, for the provenance
	var sets []install.Set
	services := map[string]*plan.Service{}
	verifyOnBoot := map[string]bool{}
	if *planFile != "" {
		if *lockFile != "" || *root != "" || *app != "" || *includeDev || len(scriptsAllow) > 0 {
			return usageErr("install: -f takes the sets from the plan; do not also give --lock, --root, --app, --include-dev or --scripts-allow")
		}
		// Read once: the plan parsed is the plan hashed for the
		// provenance (attestations.go).
		src, err := os.ReadFile(*planFile)
		if err != nil {
			return fmt.Errorf("read plan file: %w", err)
		}
		pl, err := plan.Parse(*planFile, src)
		if err != nil {
			return err
		}
		if *provenancePlan {
			planSum = &attest.File{Name: filepath.Base(*planFile), SHA256: attest.SHA256Hex(src)}
		}
		if opts.Release == "" {
			opts.Release = pl.Release
		}
		if opts.Wheelhouse == "" {
			opts.Wheelhouse = pl.Wheelhouse
		}
		if opts.Tarballs == "" {
			opts.Tarballs = pl.Tarballs
		}
		for _, s := range pl.Sets {
			if s.Service != nil {
				services[s.Name] = s.Service
			}
			verifyOnBoot[s.Name] = s.VerifyOnBoot
			sets = append(sets, install.Set{Name: s.Name, Lock: s.Lock, Python: s.Python, Root: s.Root,
				Keep: s.KeepOrDefault(), Compile: s.CompileOrDefault(), Installer: s.Installer,
				Kind: s.Kind, Node: s.Node, IncludeDev: s.IncludeDev, ScriptsAllow: s.ScriptsAllow, App: s.App})
		}
	} else {
		var missing []string
		for flagName, v := range map[string]string{"--lock": *lockFile, "--wheelhouse": *wheelhouse + *tarballs, "--root": *root} {
			if v == "" {
				if flagName == "--wheelhouse" {
					flagName = "--wheelhouse (or --tarballs)"
				}
				missing = append(missing, flagName)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return usageErr("install: missing %v (or use -f pipbake.hcl)", missing)
		}
		sets = append(sets, install.Set{Name: *name, Lock: *lockFile, Python: *python, Root: *root,
			Keep: *keep, Compile: !*noCompile, Installer: *installer, Node: *node,
			App: *app, IncludeDev: *includeDev, ScriptsAllow: scriptsAllow})
	}
	if opts.Wheelhouse == "" && opts.Tarballs == "" {
		return usageErr("install: no wheelhouse: give --wheelhouse (or --tarballs) or set wheelhouse (or tarballs) in the plan")
	}
	// Stage every set, then make them all current together, the service
	// units and users made before any switch: a failure in any set leaves
	// every root as it was.
	staged, err := install.StageAll(ctx, sets, opts)
	if err != nil {
		if ctx.Err() != nil {
			return cancelled(ctx, err)
		}
		return err
	}
	abort := func() {
		for _, st := range staged {
			_ = st.Abort()
		}
	}
	holdBeforeSwitch(ctx, s.stderr)
	// The last moment to stop: a cancelled install (a signal, or the
	// session that started it gone) never switches, and in a session it
	// switches only once the provisioner agrees, so that it knows, should
	// the build be cancelled, whether this happened. Staging may have
	// finished its last steps without looking at ctx; what follows (units,
	// receipt copies, the switches) takes milliseconds and is not
	// interrupted, so the sets stay all old or all new.
	allowed := context.Cause(ctx)
	if sess != nil {
		allowed = sess.Switch(ctx)
	}
	if allowed != nil {
		abort()
		if ctx.Err() != nil {
			return cancelled(ctx, nil)
		}
		return fmt.Errorf("%w; every set's current release is as it was and the new release was removed", allowed)
	}
	steps := make([]install.Step, len(sets))
	for i, s := range sets {
		svc, verify := services[s.Name], verifyOnBoot[s.Name]
		if svc == nil && !verify {
			continue
		}
		steps[i] = func(res *install.Result) (func() error, error) {
			var undo func() error = func() error { return nil }
			if verify { // verify_on_boot: verify_boot.go
				var err error
				if undo, err = enableVerifyOnBoot(*sysroot, res, svc != nil); err != nil {
					return nil, err
				}
			}
			if svc == nil {
				return undo, nil
			}
			progs := service.ProgramsOf(res.Receipt.Runtime(), res.Receipt.Interpreter.Path)
			en, err := service.Enable(service.Options{SysRoot: *sysroot, VerifyOnBoot: verify, Programs: progs}, res.Set, res.Root, svc)
			if err != nil {
				undo()
				return nil, err
			}
			res.Unit = en.Unit
			return func() error { return errors.Join(en.Undo(), undo()) }, nil
		}
	}
	if *receipts != "" { // attestations.go
		for i := range steps {
			steps[i] = chainSteps(statementsStep(*receipts, planSum, templates, log), steps[i])
		}
	}
	results, err := install.CommitAll(staged, steps)
	if err != nil {
		return err
	}
	for _, res := range results {
		if !*asJSON && !*quiet {
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
	}
	if *resultFile != "" {
		if err := writeResultFile(*resultFile, results); err != nil {
			// Every set is current: the install stands.
			fmt.Fprintf(s.stderr, "pipbake: warning: %v\n", err)
		}
	}
	if *asJSON {
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
