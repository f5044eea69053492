package install

import (
	"context"
	"fmt"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/venv"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// pythonEcosystem installs wheels into a virtual environment.
type pythonEcosystem struct{}

var (
	_ ecosystem = pythonEcosystem{}
	_ layout    = (*pythonLayout)(nil)
)

// pythonLayout is a Python set checked: its lock parsed, interpreter
// probed and wheels chosen, opened and checked against the lock's hashes.
type pythonLayout struct {
	lk      *lock.Lock
	tg      *target.Target
	house   *wheelhouse.House
	wheels  []*wheel.Wheel
	digests []string
	set     Set
	// id is the release being installed (set by install).
	id string
	// meter counts the files written (native installer; set by install).
	meter *progress.Meter
}

func (pythonEcosystem) check(ctx context.Context, set Set, opts Options) (_ layout, _ Set, err error) {
	if set.Python == "" {
		set.Python = "python3"
	}
	if set.Installer == "" {
		set.Installer = Native
	}
	if set.Installer != Native && set.Installer != Pip {
		return nil, set, fmt.Errorf("set %q: installer %q is not %q or %q", set.Name, set.Installer, Native, Pip)
	}
	if opts.Wheelhouse == "" {
		return nil, set, fmt.Errorf("set %q: lock, root and wheelhouse are required", set.Name)
	}
	p := &pythonLayout{set: set}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.lk, err = lock.ParseFile(set.Lock); err != nil {
		return nil, set, err
	}
	if p.tg, err = target.Probe(ctx, set.Python); err != nil {
		return nil, set, fmt.Errorf("set %q: %w", set.Name, err)
	}
	pins, err := p.lk.ForEnv(p.tg.Markers)
	if err != nil {
		return nil, set, err
	}
	supported, err := p.tg.Tags()
	if err != nil {
		return nil, set, err
	}
	if p.house, err = wheelhouse.Open(opts.Wheelhouse); err != nil {
		return nil, set, err
	}
	choices, err := p.house.Choose(pins, supported)
	if err != nil {
		return nil, set, fmt.Errorf("set %q, lock %s: %w", set.Name, set.Lock, err)
	}
	if p.wheels, p.digests, err = openVerified(p.house, choices); err != nil {
		return nil, set, fmt.Errorf("set %q, lock %s: %w", set.Name, set.Lock, err)
	}
	if err := checkPython(p.tg, p.wheels); err != nil {
		return nil, set, fmt.Errorf("set %q, lock %s: %w", set.Name, set.Lock, err)
	}
	return p, set, nil
}

func (p *pythonLayout) lockSHA256() string  { return p.lk.SHA256 }
func (p *pythonLayout) runtimePath() string { return p.tg.Executable }

func (p *pythonLayout) cacheKey(set Set, rootDir, id string, opts Options) CacheKey {
	return keyOf(set, rootDir, id, p.lk, p.tg, opts)
}

func (p *pythonLayout) summary() string {
	return fmt.Sprintf("%d distributions with %s (Python %s)", len(p.wheels), p.set.Installer, p.tg.VersionFull)
}

func (p *pythonLayout) install(ctx context.Context, set Set, id, dir string, opts Options) (*receipt.Receipt, laidOut, error) {
	p.set, p.id = set, id
	env, err := venv.Create(p.tg, dir, dir)
	if err != nil {
		return nil, laidOut{}, err
	}
	var inst *installation
	files, size := recordTotals(p.wheels)
	popts := []progress.Option{progress.NoDoneLine(), progress.Note(fmt.Sprintf("%d distributions, %d files, %s", len(p.wheels), files, progress.Bytes(size)))}
	if set.Installer == Native { // counts the files it writes
		popts = []progress.Option{progress.NoDoneLine(), progress.Unit("files"), progress.Total(files), progress.TotalBytes(size), progress.Note(fmt.Sprintf("%d distributions", len(p.wheels)))}
	}
	p.meter = progress.Start(opts.Log, "pipbake: "+set.Name+": install", append(popts, progress.Delay(progressDelay))...)
	switch set.Installer {
	case Native:
		inst, err = p.installNative(ctx, env, opts)
	case Pip:
		inst, err = p.installPip(ctx, env, opts)
	}
	p.meter.Stop()
	if err != nil {
		return nil, laidOut{}, err
	}
	if secs := p.meter.Elapsed().Seconds(); secs > 0 {
		opts.logf("pipbake: %s: installed %d distributions (%d files, %s) in %.1fs (%s/s)", set.Name, len(p.wheels), files, progress.Bytes(size), secs, progress.Bytes(int64(float64(size)/secs)))
	}
	rc, err := p.buildReceipt(env, inst, opts)
	if err != nil {
		return nil, laidOut{}, err
	}
	return rc, laidOut{notes: inst.compileErrs, bytecode: inst.bytecode}, nil
}

func (p *pythonLayout) close() {
	for _, w := range p.wheels {
		w.Close()
	}
	p.wheels = nil
	if p.house != nil {
		p.house.Close()
		p.house = nil
	}
}
