package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// nodeEcosystem lays npm tarballs out into node_modules, as `npm ci`
// does (internal/npm).
type nodeEcosystem struct{}

var (
	_ ecosystem = nodeEcosystem{}
	_ layout    = (*nodeLayout)(nil)
)

// maxPackageJSON is the largest package.json read beside a lock.
const maxPackageJSON = 1 << 20

// nodeLayout is a Node set checked: its lock read and checked, node
// probed, the packages chosen for it and every tarball found.
type nodeLayout struct {
	lk      *npm.Lock
	rt      *npm.Runtime
	sel     *npm.Selection
	tb      *npm.Tarballs
	pkgJSON []byte
	appSRI  string
	set     Set
}

func (nodeEcosystem) check(ctx context.Context, set Set, opts Options) (_ layout, _ Set, err error) {
	if set.Node == "" {
		set.Node = "node"
	}
	p := &nodeLayout{set: set}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.lk, err = npm.ReadLock(set.Lock); err != nil {
		return nil, set, fmt.Errorf("set %q: %w", set.Name, err)
	}
	var local npm.Local
	if opts.NpmStore != "" {
		local.VersionCache = npmstore.NodeVersions(opts.NpmStore)
	}
	if p.rt, err = npm.Probe(ctx, local, set.Node); err != nil {
		return nil, set, fmt.Errorf("set %q: %w", set.Name, err)
	}
	if p.sel, err = p.lk.Select(p.rt, npm.SelectOptions{IncludeDev: set.IncludeDev}); err != nil {
		return nil, set, fmt.Errorf("set %q: %w", set.Name, err)
	}
	for _, e := range p.sel.Engines {
		opts.logf("pipbake: %s: warning: %s", set.Name, e)
	}
	need := 0
	for _, pk := range p.sel.Packages {
		switch pk.Kind() {
		case npm.Registry, npm.Remote, npm.LocalTarball:
			need++
		}
	}
	from := opts.Tarballs
	if from == "" {
		from = opts.Wheelhouse
	}
	if need > 0 {
		if from == "" {
			return nil, set, fmt.Errorf("set %q: no folder of npm tarballs (tarballs, or the wheelhouse) for the %d packages lock %s pins; fetch them with pipbake fetch --lock %s", set.Name, need, set.Lock, set.Lock)
		}
		if p.tb, err = npm.OpenTarballs(from); err != nil {
			return nil, set, fmt.Errorf("set %q: %w", set.Name, err)
		}
		var missing []string
		for _, pk := range p.sel.Packages {
			switch pk.Kind() {
			case npm.Registry, npm.Remote, npm.LocalTarball:
				if f := npm.TarballFile(pk.Name, pk.Version); !p.tb.Has(f) {
					missing = append(missing, f+" for "+pk.Label())
				}
			}
		}
		if len(missing) > 0 {
			more := ""
			if len(missing) > 10 {
				more = fmt.Sprintf(" and %d more", len(missing)-10)
				missing = missing[:10]
			}
			return nil, set, fmt.Errorf("set %q: %s has no %s%s (fetch them with pipbake fetch --lock %s)", set.Name, from, strings.Join(missing, ", "), more, set.Lock)
		}
	}
	if p.pkgJSON, err = readPackageJSON(filepath.Join(filepath.Dir(set.Lock), "package.json")); err != nil {
		return nil, set, fmt.Errorf("set %q: %w", set.Name, err)
	}
	if set.App != "" {
		f, err := os.Open(set.App)
		if err != nil {
			return nil, set, fmt.Errorf("set %q: app: %w", set.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(f, npm.MaxTarballBytes+1))
		f.Close()
		if err != nil {
			return nil, set, fmt.Errorf("set %q: read app %s: %w", set.Name, set.App, err)
		}
		if len(data) > npm.MaxTarballBytes {
			return nil, set, fmt.Errorf("set %q: app %s is larger than %d MiB", set.Name, set.App, npm.MaxTarballBytes>>20)
		}
		p.appSRI = npm.SRI(data)
	}
	return p, set, nil
}

// readPackageJSON reads the project's package.json beside its lock (nil
// when there is none: Install makes one from the lock).
func readPackageJSON(p string) ([]byte, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPackageJSON+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(data) > maxPackageJSON {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxPackageJSON)
	}
	return data, nil
}

func (p *nodeLayout) lockSHA256() string  { return p.lk.SHA256 }
func (p *nodeLayout) runtimePath() string { return p.rt.ExecPath }

func (p *nodeLayout) platform() string {
	s := p.rt.Platform + "-" + p.rt.Arch
	if p.rt.Libc != "" {
		s += "-" + p.rt.Libc
	}
	return s
}

func (p *nodeLayout) cacheKey(set Set, rootDir, id string, opts Options) CacheKey {
	k := CacheKey{Set: set.Name, Root: rootDir, Release: id, LockSHA256: p.lk.SHA256,
		Python: p.rt.ExecPath, PythonVersion: p.rt.Version, Implementation: "node", Platform: p.platform(),
		Installer: Native, Pipbake: opts.Version, Epoch: epoch()}
	k.Variant = variantOf(&receipt.Receipt{Ecosystem: receipt.EcosystemNode, IncludeDev: set.IncludeDev,
		ScriptsAllow: set.ScriptsAllow, App: p.app(nil)})
	return k
}

func (p *nodeLayout) summary() string {
	return fmt.Sprintf("%d npm packages (%s)", len(p.sel.Packages), p.rt)
}

// app is the receipt's App: the lock's project, and its tarball.
func (p *nodeLayout) app(res *npm.Result) *receipt.App {
	a := &receipt.App{Name: p.lk.Name, Version: p.lk.Version}
	if p.lk.Root != nil {
		if p.lk.Root.Name != "" {
			a.Name = p.lk.Root.Name
		}
		if p.lk.Root.Version != "" {
			a.Version = p.lk.Root.Version
		}
	}
	if p.set.App != "" {
		a.File, a.Integrity = filepath.Base(p.set.App), p.appSRI
	}
	if res != nil && res.App != nil {
		a.File, a.Integrity, a.Files = res.App.File, res.App.Integrity, res.App.Files
	}
	if *a == (receipt.App{}) {
		return nil
	}
	return a
}

func (p *nodeLayout) install(ctx context.Context, set Set, id, dir string, opts Options) (*receipt.Receipt, laidOut, error) {
	var store *npmstore.Store
	if opts.NpmStore != "" {
		var err error
		if store, err = npmstore.Open(opts.NpmStore); err != nil {
			opts.logf("pipbake: warning: npm store not used: %v", err)
		} else {
			defer store.Close()
		}
	}
	res, err := npm.Install(ctx, npm.InstallOptions{Selection: p.sel, Tarballs: p.tb, Dir: dir,
		App: set.App, AppIntegrity: p.appSRI, PackageJSON: p.pkgJSON, ScriptsAllow: set.ScriptsAllow,
		Jobs: opts.Jobs, Log: opts.Log, Store: store, Link: opts.NpmLink && store != nil})
	if err != nil {
		return nil, laidOut{}, err
	}
	out := laidOut{known: make(map[string]receipt.Known, len(res.Files))}
	for _, f := range res.Files {
		if f.Mode.IsRegular() {
			out.known[f.Path] = receipt.Known{Size: f.Size, Mode: f.Mode}
		}
	}
	if store != nil {
		out.npmStore = &NpmStore{Stored: res.Stored, Unpacked: res.Unpacked, Linked: res.Linked}
		linked := ""
		if res.Linked > 0 {
			linked = fmt.Sprintf(" (%d of them hard-linked)", res.Linked)
		}
		opts.logf("pipbake: %s: npm packages: %d from the npm store%s, %d unpacked (npm store %s)", set.Name, res.Stored, linked, res.Unpacked, store.Dir())
		if n := store.Damaged(); n > 0 {
			opts.logf("pipbake: warning: npm store %s: %d damaged packages ignored (unpacked again)", store.Dir(), n)
		}
	}
	created, err := createdTime(opts.Now)
	if err != nil {
		return nil, laidOut{}, err
	}
	rc := &receipt.Receipt{
		Schema:    receipt.Schema,
		Set:       set.Name,
		Release:   id,
		Created:   created,
		Pipbake:   opts.Version,
		Installer: Native,
		Ecosystem: receipt.EcosystemNode,
		Lock:      receipt.Lock{Path: p.lk.Path, SHA256: p.lk.SHA256, Format: fmt.Sprintf("package-lock v%d", p.lk.LockfileVersion)},
		Interpreter: receipt.Interpreter{Path: p.rt.ExecPath, Version: p.rt.Version, Implementation: "node",
			Platform: p.platform()},
		Distributions: []receipt.Distribution{},
		Environment:   []receipt.EnvFile{},
		App:           p.app(res),
		IncludeDev:    set.IncludeDev,
		ScriptsAllow:  set.ScriptsAllow,
		ScriptsNotRun: res.NotRun,
		Warnings:      res.Engines,
	}
	for _, pk := range res.Packages {
		d := receipt.Distribution{Name: pk.Name, Version: pk.Version, Files: pk.Files, Path: pk.Path,
			Integrity: pk.Integrity, Resolved: pk.Resolved, Kind: pk.Kind, Link: pk.Link,
			Dev: pk.Dev, Optional: pk.Optional, License: pk.License, PURL: npm.PURL(pk.Name, pk.Version)}
		switch pk.Kind {
		case npm.Registry.String(), npm.Remote.String(), npm.LocalTarball.String():
			d.Tarball = npm.TarballFile(pk.Name, pk.Version)
		}
		for _, e := range pk.Dependencies {
			if e.Path != "" {
				d.DependsOn = append(d.DependsOn, e.Path)
			}
		}
		rc.Distributions = append(rc.Distributions, d)
	}
	for _, f := range res.Files {
		rc.Manifest = append(rc.Manifest, receipt.ManifestFile{Path: f.Path, SHA256: f.SHA256, Size: sizeOf(f), Link: f.Link})
	}
	for _, s := range res.Scripts {
		rc.Scripts = append(rc.Scripts, receipt.Script{Package: s.Package, Name: s.Name, Version: s.Version, Event: s.Event, Command: s.Script})
	}
	for _, s := range res.Skipped {
		rc.Skipped = append(rc.Skipped, receipt.Skipped{Path: s.Path, ID: s.ID, Reason: s.Reason})
	}
	return rc, out, nil
}

// sizeOf is a manifest entry's size: a regular file's (a link has none).
func sizeOf(f npm.File) int64 {
	if f.Link != "" {
		return 0
	}
	return f.Size
}

func (p *nodeLayout) close() {
	if p.tb != nil {
		p.tb.Close()
		p.tb = nil
	}
}

// epoch is SOURCE_DATE_EPOCH as Unix seconds, or "" when unset.
func epoch() string {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return ""
}
