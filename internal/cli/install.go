package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/service"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

func versionString() string { return "pipbake " + version.String() }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("pipbake "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// parse parses flags, turning usage errors into exit status 2.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0}
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func cmdInstall(ctx context.Context, args []string) error {
	fs := newFlags("install")
	planFile := fs.String("f", "", "install every set of a `pipbake.hcl` plan")
	lockFile := fs.String("lock", "", "lock `file`: hashed requirements or pylock.toml")
	wheelhouse := fs.String("wheelhouse", "", "`folder` of wheels (from pipbake fetch), or a tar archive of them (read in place)")
	root := fs.String("root", "", "release root `folder`: <root>/releases/<id>, <root>/current")
	name := fs.String("name", "", "set name for receipts (default: the root's base name)")
	python := fs.String("python", "python3", "target `interpreter`")
	rel := fs.String("release", "", "release `id` (default: UTC time and lock hash prefix)")
	keep := fs.Int("keep", 0, "keep the newest `N` releases (default 5)")
	noCompile := fs.Bool("no-compile", false, "do not write bytecode")
	installer := fs.String("installer", install.Native, "`native` or pip")
	receipts := fs.String("receipts-dir", "", "also copy each receipt into this `folder` (e.g. /var/lib/pipbake/receipts)")
	sysroot := fs.String("system-root", "/", "system `root` for service units and users (a chroot or image root)")
	jobs := fs.Int("jobs", 0, "extract with `N` goroutines (default 4 per CPU)")
	cacheDir := fs.String("cache-dir", os.Getenv(install.ReleaseCacheEnv), "restore unchanged sets from (and store new ones in) this release cache `folder` (default $"+install.ReleaseCacheEnv+")")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "print only errors")
	if err := parse(fs, args); err != nil {
		return err
	}
	var log io.Writer = os.Stderr
	if *quiet || *asJSON {
		log = nil
	}
	opts := install.Options{Release: *rel, Wheelhouse: *wheelhouse, ReceiptsDir: *receipts, Log: log, Version: version.String(), Jobs: *jobs, ReleaseCache: *cacheDir}
	var sets []install.Set
	services := map[string]*plan.Service{}
	verifyOnBoot := map[string]bool{}
	if *planFile != "" {
		if *lockFile != "" || *root != "" {
			return &exitError{code: 2, err: errors.New("install: -f takes the sets from the plan; do not also give --lock or --root")}
		}
		pl, err := plan.Load(*planFile)
		if err != nil {
			return err
		}
		if opts.Release == "" {
			opts.Release = pl.Release
		}
		if opts.Wheelhouse == "" {
			opts.Wheelhouse = pl.Wheelhouse
		}
		for _, s := range pl.Sets {
			if s.Service != nil {
				services[s.Name] = s.Service
			}
			verifyOnBoot[s.Name] = s.VerifyOnBoot
			sets = append(sets, install.Set{Name: s.Name, Lock: s.Lock, Python: s.Python, Root: s.Root,
				Keep: s.KeepOrDefault(), Compile: s.CompileOrDefault(), Installer: s.Installer})
		}
	} else {
		var missing []string
		for flagName, v := range map[string]string{"--lock": *lockFile, "--wheelhouse": *wheelhouse, "--root": *root} {
			if v == "" {
				missing = append(missing, flagName)
			}
		}
		if len(missing) > 0 {
			return &exitError{code: 2, err: fmt.Errorf("install: missing %v (or use -f pipbake.hcl)", missing)}
		}
		sets = append(sets, install.Set{Name: *name, Lock: *lockFile, Python: *python, Root: *root,
			Keep: *keep, Compile: !*noCompile, Installer: *installer})
	}
	if opts.Wheelhouse == "" {
		return &exitError{code: 2, err: errors.New("install: no wheelhouse: give --wheelhouse or set wheelhouse in the plan")}
	}
	// Stage every set, then make them all current together, the service
	// units and users made before any switch: a failure in any set leaves
	// every root as it was.
	staged, err := install.StageAll(ctx, sets, opts)
	if err != nil {
		return err
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
			en, err := service.Enable(service.Options{SysRoot: *sysroot, VerifyOnBoot: verify}, res.Set, res.Root, svc)
			if err != nil {
				undo()
				return nil, err
			}
			res.Unit = en.Unit
			return func() error { return errors.Join(en.Undo(), undo()) }, nil
		}
	}
	results, err := install.CommitAll(staged, steps)
	if err != nil {
		return err
	}
	if *receipts != "" { // attestations.go
		if err := writeStatements(results, *receipts, log); err != nil {
			return err
		}
	}
	for _, res := range results {
		if !*asJSON && !*quiet {
			if res.Skipped {
				fmt.Printf("%s: release %s is already current in %s (verified)\n", res.Set, res.Release, res.Root)
			} else {
				fmt.Printf("%s: installed release %s in %s (%d distributions, %d files, %.2fs)\n",
					res.Set, res.Release, res.Root, len(res.Receipt.Distributions), res.Receipt.Files, res.Duration.Seconds())
			}
			if res.Unit != "" {
				fmt.Printf("%s: service enabled for the next boot: %s\n", res.Set, res.Unit)
			}
		}
	}
	if *asJSON {
		return printJSON(results)
	}
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
