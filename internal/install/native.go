package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

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
	wopts := wheel.Options{
		Scheme:        env.Scheme,
		Root:          env.Dir,
		Python:        env.Python,
		PythonVersion: [2]int{tg.Version[0], tg.Version[1]},
		Installer:     "pipbake",
		Requested:     true,
	}
	if compile {
		wopts.OnPython = onPython
	}
	type ref struct {
		in *wheel.Install
		i  int
	}
	var jobs []ref
	installs := make([]*wheel.Install, len(wheels))
	for k, w := range wheels {
		in, err := w.Prepare(wopts)
		if err != nil {
			if pool != nil {
				_ = pool.Wait()
			}
			return nil, nil, err
		}
		installs[k] = in
		for i := 0; i < in.Jobs(); i++ {
			jobs = append(jobs, ref{in, i})
		}
	}
	// Bytecode is the long pole: when compiling, write the .py files first
	// so the compiler pool is busy from the start while the rest extracts;
	// within each group, biggest first.
	sort.SliceStable(jobs, func(a, b int) bool {
		ja, jb := jobs[a], jobs[b]
		if compile {
			if pa, pb := ja.in.JobIsPython(ja.i), jb.in.JobIsPython(jb.i); pa != pb {
				return pa
			}
		}
		return ja.in.JobSize(ja.i) > jb.in.JobSize(jb.i)
	})

	workers := opts.Jobs
	if workers <= 0 {
		workers = 4 * runtime.NumCPU()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan ref)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := j.in.Extract(j.i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
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
	for k, in := range installs {
		res, err := in.Finish()
		if err != nil {
			return nil, nil, err
		}
		rel, err := filepath.Rel(env.Dir, res.DistInfo)
		if err != nil {
			return nil, nil, err
		}
		w := in.W
		out[k] = &installedDist{w: w, name: w.Metadata.Name, version: w.Metadata.Version, distInfo: filepath.ToSlash(rel), files: len(res.Files)}
	}
	sort.Strings(compileErrs)
	for _, e := range compileErrs {
		opts.logf("pipbake: note: no bytecode for %s", e)
	}
	return out, compileErrs, nil
}
