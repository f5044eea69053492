package install

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/venv"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// installedDist is what the receipt needs of one installed wheel.
type installedDist struct {
	w        *wheel.Wheel
	name     string
	version  string
	distInfo string // relative to the release
	files    int
}

// installation is what an installer put into the environment, for the
// receipt.
type installation struct {
	dists []*installedDist
	// compileErrs lists the sources that did not compile (as with pip,
	// the install goes on without their bytecode).
	compileErrs []string
	// bytecode counts the .pyc files by origin (native installer only);
	// it goes to the Result, never into the receipt.
	bytecode *Bytecode
}

// native is one set's installation by pipbake's own installer, run as
// named phases over this state: prepare every wheel, schedule the member
// jobs, extract them (each module's bytecode written or compiled as it
// lands), finish each wheel (scripts, RECORD).
type native struct {
	ctx    context.Context
	tg     *target.Target
	env    *venv.Env
	wheels []*wheel.Wheel
	// digests are the wheels' hex sha256, in the same order.
	digests []string
	opts    Options
	// set names the set in log lines.
	set string
	// bc writes bytecode; nil without.
	bc *bytecodeWriter
	// meter counts the members written (nil: not counted).
	meter *progress.Meter
	// stopCompilers kills the compilers once extraction has failed.
	stopCompilers context.CancelFunc

	installs []*wheel.Install
	jobs     []*wheel.Job // in extraction order
	out      installation
}

// installNative installs wheels into env with pipbake's own installer,
// writing bytecode when compile is set.
func (p *pythonLayout) installNative(ctx context.Context, env *venv.Env, opts Options) (*installation, error) {
	n := &native{ctx: ctx, tg: p.tg, env: env, wheels: p.wheels, digests: p.digests, opts: opts, set: p.set.Name, meter: p.meter}
	if p.set.Compile {
		var poolCtx context.Context
		poolCtx, n.stopCompilers = context.WithCancel(ctx)
		defer n.stopCompilers()
		n.bc = newBytecodeWriter(poolCtx, p.tg, env, opts.BytecodeCache, opts.BytecodeCacheTransient, opts.logf)
		defer n.bc.close()
	}
	for _, phase := range []func() error{n.prepare, n.schedule, n.extract, n.finish} {
		if err := phase(); err != nil {
			return nil, err
		}
	}
	return &n.out, nil
}

// prepare maps every wheel's members to their destinations, checking them
// all before anything is written.
func (n *native) prepare() error {
	logWarnings(n.wheels, n.opts)
	wopts := installOptions(n.tg, n.env)
	n.installs = make([]*wheel.Install, len(n.wheels))
	err := eachWheel(len(n.wheels), func(k int) (err error) {
		n.installs[k], err = n.wheels[k].Prepare(wopts)
		return err
	})
	if err == nil && n.bc != nil {
		n.bc.openWheels(n.installs, n.digests)
	}
	return err
}

// schedule orders the member jobs: with bytecode, the .py files first, so
// the compilers are busy from the start while the rest extracts; within
// each group, biggest first. A path two distributions ship is written by
// the later one, as with pip (backports/__init__.py, say); the earlier one
// only checks it.
func (n *native) schedule() error {
	writer := map[string]*wheel.Job{}
	for _, in := range n.installs {
		for _, j := range in.Jobs() {
			if prev, ok := writer[j.Dest]; ok {
				prev.Supersede()
			}
			writer[j.Dest] = j
			n.jobs = append(n.jobs, j)
		}
	}
	compiling := n.bc != nil
	slices.SortStableFunc(n.jobs, func(a, b *wheel.Job) int {
		if pa, pb := compiling && a.Python, compiling && b.Python; pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Size, a.Size)
	})
	return nil
}

// extract writes every member on opts.Jobs goroutines (default 4 per
// CPU: many small files wait on the file system more than on the CPU),
// then waits for the compilers. The first failure stops the rest.
func (n *native) extract() error {
	workers := n.opts.Jobs
	if workers <= 0 {
		workers = 4 * runtime.NumCPU()
	}
	g, ctx := errgroup.WithContext(n.ctx)
	g.SetLimit(workers)
	for _, j := range n.jobs {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			if err := j.Extract(); err != nil {
				return err
			}
			n.meter.Add(1)
			n.meter.AddBytes(j.Size)
			if n.bc != nil && j.Python && !j.Superseded() {
				return n.bc.add(j)
			}
			return nil
		})
	}
	err := g.Wait()
	if err != nil && n.stopCompilers != nil {
		n.stopCompilers()
	}
	if n.bc != nil {
		if werr := n.bc.wait(); err == nil {
			err = werr
		}
	}
	if err == nil {
		err = n.ctx.Err()
	}
	if err == nil && n.bc != nil {
		n.bc.packWheels()
	}
	return err
}

// finish writes each wheel's scripts, INSTALLER, REQUESTED and RECORD.
func (n *native) finish() error {
	n.out.dists = make([]*installedDist, len(n.installs))
	one := func(k int) error {
		in := n.installs[k]
		res, err := in.Finish()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(n.env.Dir, res.DistInfo)
		if err != nil {
			return err
		}
		w := in.W
		n.out.dists[k] = &installedDist{w: w, name: w.Metadata.Name, version: w.Metadata.Version, distInfo: filepath.ToSlash(rel), files: len(res.Files)}
		return nil
	}
	if scriptsCollide(n.installs) {
		// Two distributions write the same script: the later one must win,
		// as with pip, so finish them in order.
		for k := range n.installs {
			if err := one(k); err != nil {
				return err
			}
		}
	} else if err := eachWheel(len(n.installs), one); err != nil {
		return err
	}
	if n.bc != nil {
		n.out.compileErrs = n.bc.errors()
		n.out.bytecode = n.bc.counts()
		for _, e := range n.out.compileErrs {
			n.opts.logf("pipbake: note: no bytecode for %s", e)
		}
		how := "no bytecode cache"
		if n.bc.cache != nil {
			how = "bytecode cache " + n.bc.cache.Dir()
		}
		n.opts.logf("pipbake: %s: bytecode: %s (%s)", n.set, n.out.bytecode, how)
	}
	return nil
}

// installOptions are the wheel.Options both installers check wheels with
// (pip's before pip runs): the environment's scheme, and its own files,
// which no wheel may replace.
func installOptions(tg *target.Target, env *venv.Env) wheel.Options {
	o := wheel.Options{
		Scheme:        env.Scheme,
		Root:          env.Dir,
		Python:        env.Python,
		PythonVersion: [2]int{tg.Version[0], tg.Version[1]},
		Installer:     "pipbake",
		Requested:     true,
		Dirs:          &wheel.Dirs{},
	}
	for _, rel := range env.Files {
		o.EnvFiles = append(o.EnvFiles, filepath.Join(env.Dir, filepath.FromSlash(rel)))
	}
	return o
}

// checkPython refuses, before anything is written, every wheel whose
// Requires-Python excludes the interpreter (pip refuses them too; the
// native installer installed them, and the import then failed).
func checkPython(tg *target.Target, wheels []*wheel.Wheel) error {
	var errs []error
	for _, w := range wheels {
		if err := w.CheckPython(tg.Version); err != nil {
			errs = append(errs, fmt.Errorf("%w (interpreter %s)", err, tg.Executable))
		}
	}
	return errors.Join(errs...)
}

// logWarnings says what the wheels' checks found worth saying.
func logWarnings(wheels []*wheel.Wheel, opts Options) {
	for _, w := range wheels {
		for _, msg := range w.Warnings {
			opts.logf("pipbake: warning: %s", msg)
		}
	}
}

// eachWheel calls f(0..n-1) on a goroutine per CPU and returns the error of
// the lowest k that failed (not the first in time: the same error every
// run).
func eachWheel(n int, f func(k int) error) error {
	errs := make([]error, n)
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for k := 0; k < n; k++ {
		g.Go(func() error {
			errs[k] = f(k)
			return nil
		})
	}
	_ = g.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// scriptsCollide reports whether two of the distributions generate a
// script of the same name.
func scriptsCollide(installs []*wheel.Install) bool {
	seen := map[string]bool{}
	for _, in := range installs {
		for _, name := range in.ScriptNames() {
			if seen[name] {
				return true
			}
			seen[name] = true
		}
	}
	return false
}
