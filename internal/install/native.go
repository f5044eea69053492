package install

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/pipbake/packer-plugin-pipbake/internal/bytecode"
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

// installNative extracts every member of every wheel on a pool of
// goroutines, biggest members first, feeding each .py file to the bytecode
// pool the moment it is written; then writes each wheel's scripts and
// RECORD.
func installNative(ctx context.Context, tg *target.Target, env *venv.Env, wheels []*wheel.Wheel, compile bool, opts Options) ([]*installedDist, []string, error) {
	var pool *bytecode.Pool
	var mu sync.Mutex
	var compileErrs []string
	if compile {
		var err error
		pool, err = bytecode.Start(ctx, tg.RealExecutable, bytecode.DefaultWorkers(), target.CleanEnv(os.Environ()))
		if err != nil {
			return nil, nil, err
		}
	}
	onPython := func(in *wheel.Install, path string) {
		pool.Submit(bytecode.Job{Source: path, Display: path, Done: func(r bytecode.Result) {
			if r.Err != nil {
				mu.Lock()
				compileErrs = append(compileErrs, fmt.Sprintf("%s: %v", path, r.Err))
				mu.Unlock()
				return
			}
			in.AddFile(wheel.File{Path: r.PYC, SHA256: r.SHA256, Size: r.Size})
		}})
	}
	logWarnings(wheels, opts)
	wopts := installOptions(tg, env)
	if compile {
		wopts.OnPython = onPython
	}
	installs := make([]*wheel.Install, len(wheels))
	if err := eachWheel(len(wheels), func(k int) (err error) {
		installs[k], err = wheels[k].Prepare(wopts)
		return err
	}); err != nil {
		if pool != nil {
			_ = pool.Wait()
		}
		return nil, nil, err
	}
	// Bytecode is the long pole: when compiling, write the .py files first
	// so the compiler pool is busy from the start while the rest extracts;
	// within each group, biggest first.
	type ref struct {
		in     *wheel.Install
		i      int
		size   int64
		python bool
	}
	var jobs []ref
	// A path two distributions ship is written by the later one, as with
	// pip (backports/__init__.py, say); the earlier one only checks it.
	writer := map[string]ref{}
	for _, in := range installs {
		for i := 0; i < in.Jobs(); i++ {
			r := ref{in, i, in.JobSize(i), compile && in.JobIsPython(i)}
			if prev, ok := writer[in.JobDest(i)]; ok {
				prev.in.Supersede(prev.i)
			}
			writer[in.JobDest(i)] = r
			jobs = append(jobs, r)
		}
	}
	slices.SortStableFunc(jobs, func(a, b ref) int {
		if a.python != b.python {
			if a.python {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.size, a.size)
	})

	workers := opts.Jobs
	if workers <= 0 {
		workers = 4 * runtime.NumCPU()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64 // index of the next job to take
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(next.Add(1) - 1)
				if n >= len(jobs) {
					return
				}
				if err := jobs[n].in.Extract(jobs[n].i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
	wg.Wait()
	if pool != nil {
		if err := pool.Wait(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	out := make([]*installedDist, len(installs))
	finish := func(k int) error {
		in := installs[k]
		res, err := in.Finish()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(env.Dir, res.DistInfo)
		if err != nil {
			return err
		}
		w := in.W
		out[k] = &installedDist{w: w, name: w.Metadata.Name, version: w.Metadata.Version, distInfo: filepath.ToSlash(rel), files: len(res.Files)}
		return nil
	}
	if scriptsCollide(installs) {
		// Two distributions write the same script: the later one must win,
		// as with pip, so finish them in order.
		for k := range installs {
			if err := finish(k); err != nil {
				return nil, nil, err
			}
		}
	} else if err := eachWheel(len(installs), finish); err != nil {
		return nil, nil, err
	}
	sort.Strings(compileErrs)
	for _, e := range compileErrs {
		opts.logf("pipbake: note: no bytecode for %s", e)
	}
	return out, compileErrs, nil
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
// the lowest k that failed.
func eachWheel(n int, f func(k int) error) error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < min(n, runtime.NumCPU()); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				errs[k] = f(k)
			}
		}()
	}
	wg.Wait()
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
