package npm

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pipbake/packer-plugin-pipbake/internal/umask"
)

// layout is one Install: its options and what each phase leaves for the
// next, in the order the phases fill it.
type layout struct {
	opts InstallOptions
	sel  *Selection
	u    *unpacker
	res  *Result

	jobs []*job // the lock's tarballs (tarballJobs)
	app  *job   // the project's own tarball, or nil (readApp)
	// hiddenLock renders node_modules/.package-lock.json, started by
	// verify (it depends on the lock alone) and awaited by
	// writeHiddenLock.
	hiddenLock func() ([]byte, error)

	all   []*job    // jobs and app, biggest first (unpack)
	files []fileRec // every file written, but the hidden lock
	links []File    // links to folders and linked packages (project)
	run   []*pkgScripts

	bins    []Bin
	changed []string  // files linkBins made executable
	hidden  []fileRec // the hidden lock, when written
}

// newLayout checks the options and decides whether stored packages are
// linked (Link) or written.
func newLayout(opts InstallOptions) (*layout, error) {
	s := opts.Selection
	if s == nil || s.Lock == nil || s.Runtime == nil {
		return nil, errors.New("npm install: no selection (Lock.Select)")
	}
	root, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("npm install: release directory %s: %w", opts.Dir, err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("npm install: release directory %s: not a folder (%v)", opts.Dir, err)
	}
	l := &layout{opts: opts, sel: s, u: &unpacker{root: root, umask: umask.Get()}, res: &Result{Engines: s.Engines}}
	if opts.Link && opts.Store != nil {
		switch err := opts.Store.Linkable(root); {
		case len(opts.ScriptsAllow) > 0:
			logf(opts.Log, "pipbake: %s: packages are written, not linked from the npm store: scripts_allow lets scripts run, which could write into linked files", s.Lock.Path)
		case err != nil:
			logf(opts.Log, "pipbake: npm store %s: its files cannot be linked into %s (%v): they are written", opts.Store.Dir(), root, err)
		default:
			l.u.link = true
		}
	}
	return l, nil
}

// tarballJobs finds every selected package's tarball, naming all the
// missing ones at once.
func (l *layout) tarballJobs(context.Context) error {
	var missing []string
	for _, p := range l.sel.Packages {
		switch p.Kind() {
		case Registry, Remote, LocalTarball:
		default:
			continue
		}
		file := TarballFile(p.Name, p.Version)
		if l.opts.Tarballs == nil || !l.opts.Tarballs.Has(file) {
			missing = append(missing, fmt.Sprintf("%s for %s", file, p.Label()))
			continue
		}
		l.jobs = append(l.jobs, &job{pkg: p, src: l.opts.Tarballs, file: file})
	}
	if len(missing) == 0 {
		return nil
	}
	lk := l.sel.Lock
	where := "no tarballs were given"
	if l.opts.Tarballs != nil {
		where = l.opts.Tarballs.Path + " has no"
	}
	return fmt.Errorf("npm install of %s: %s %s (fetch them with pipbake fetch --lock %s)", lk.Path, where, strings.Join(missing, ", "), lk.Path)
}

// readApp reads the project's own tarball, checked against AppIntegrity.
func (l *layout) readApp(context.Context) error {
	o := l.opts
	if o.App == "" {
		return nil
	}
	data, err := os.ReadFile(o.App)
	if err != nil {
		return fmt.Errorf("read the app tarball: %w", err)
	}
	if o.AppIntegrity != "" {
		want, err := ParseIntegrity(o.AppIntegrity)
		if err != nil {
			return fmt.Errorf("app tarball %s: %w", o.App, err)
		}
		if !want.Check(data) {
			return fmt.Errorf("app tarball %s does not match its integrity: it hashes to %s, %s was expected", o.App, SRI(data), o.AppIntegrity)
		}
	}
	l.app = &job{file: filepath.Base(o.App), data: data, size: int64(len(data)), sri: SRI(data)}
	return nil
}

// verify checks every tarball the store does not hold against the lock,
// all of them before anything is written; packages the store holds are
// opened by the unpacking workers. It starts rendering the hidden lock.
func (l *layout) verify(context.Context) error {
	st := l.opts.Store
	var fromTarball []*job
	for _, j := range l.jobs {
		if st != nil && !j.pkg.Integrity.IsZero() {
			j.storeKey = j.pkg.Integrity.String()
			if size, ok := st.Has(j.storeKey); ok {
				j.store, j.size = st, size // size: for scheduling, biggest first
				continue
			}
			j.storeKey = ""
		}
		fromTarball = append(fromTarball, j)
	}
	if err := verifyAll(l.opts.Tarballs, fromTarball); err != nil {
		return fmt.Errorf("npm install of %s: %w", l.sel.Lock.Path, err)
	}
	// The hidden lockfile depends on the lock alone: rendered while the
	// packages are laid out (10 ms of the large fixture's CPU).
	l.hiddenLock = sync.OnceValues(func() ([]byte, error) { return HiddenLock(l.sel.Lock, l.sel.Packages) })
	if len(l.sel.Packages) > 0 {
		go l.hiddenLock()
	}
	return nil
}

// unpack lays every package and the app out, biggest first, checks the
// bundled packages, counts what came from the store and stores the rest.
func (l *layout) unpack(ctx context.Context) error {
	own := map[string]*Package{} // package folders laid out from their own tarball or a link
	for _, p := range l.sel.Packages {
		if k := p.Kind(); k != Bundled && k != Folder {
			own[p.Path] = p
		}
	}
	l.all = slices.Clone(l.jobs)
	if l.app != nil {
		l.all = append(l.all, l.app)
	}
	slices.SortStableFunc(l.all, func(a, b *job) int { return cmp.Compare(b.size, a.size) })
	if err := l.u.unpackAll(ctx, l.all, own, l.opts.Jobs); err != nil {
		return err
	}
	if err := l.u.checkBundled(l.sel); err != nil {
		return err
	}
	var toStore []*job
	for _, j := range l.jobs {
		if j.fromStore {
			l.res.Stored++
			if j.linked {
				l.res.Linked++
			}
		} else {
			l.res.Unpacked++
			toStore = append(toStore, j)
		}
	}
	if l.opts.Store != nil {
		l.u.store(l.opts.Store, toStore, l.opts.Log)
	}
	for _, j := range l.all {
		l.files = append(l.files, j.out.files...)
	}
	return nil
}

// project makes the links to folders and linked packages and writes the
// project's package.json and lock.
func (l *layout) project(context.Context) error {
	links, err := l.u.makeLinks(l.sel)
	if err != nil {
		return err
	}
	proj, err := l.u.writeProject(l.sel.Lock, l.opts, l.app)
	if err != nil {
		return err
	}
	l.links, l.files = links, append(l.files, proj...)
	return nil
}

// planScripts decides which packages' lifecycle scripts run: those
// ScriptsAllow names. A package npm would build with node-gyp that is not
// allowed fails the install; the others' scripts are listed as not run.
func (l *layout) planScripts(context.Context) error {
	hasGyp := map[*Package]bool{}
	for _, j := range l.jobs {
		if j.out.hasGyp {
			hasGyp[j.pkg] = true
		}
	}
	withScripts, err := l.u.readScripts(l.sel.Packages, hasGyp)
	if err != nil {
		return err
	}
	run, notRun, needBuild := splitScripts(withScripts, l.opts.ScriptsAllow)
	if len(needBuild) > 0 {
		return &BuildNeededError{Packages: needBuild}
	}
	lk := l.sel.Lock
	l.res.NotRun = notRun
	if len(notRun) > 0 {
		logf(l.opts.Log, "pipbake: %s: lifecycle scripts not run (not in scripts_allow): %s", lk.Path, strings.Join(notRun, ", "))
	}
	for _, n := range unknownAllowed(l.sel.Packages, l.opts.ScriptsAllow) {
		logf(l.opts.Log, "pipbake: %s: scripts_allow names %q, which this set does not install", lk.Path, n)
	}
	l.run = scriptOrder(l.sel, run)
	return nil
}

// splitScripts sorts the packages with scripts (or a native build) into
// those allowed to run them (and having any), those needing a build that
// is not allowed, and the IDs of the rest.
func splitScripts(with []*pkgScripts, allowed []string) (run []*pkgScripts, notRun []string, needBuild []*Package) {
	for _, ps := range with {
		switch {
		case slices.Contains(allowed, ps.pkg.Name):
			if len(ps.scripts) > 0 {
				run = append(run, ps)
			}
		case ps.gyp:
			needBuild = append(needBuild, ps.pkg)
		default:
			notRun = append(notRun, ps.pkg.ID())
		}
	}
	return run, notRun, needBuild
}

// unknownAllowed lists the names of allowed that no package of pkgs has.
func unknownAllowed(pkgs []*Package, allowed []string) []string {
	known := map[string]bool{}
	for _, p := range pkgs {
		known[p.Name] = true
	}
	var unknown []string
	for _, n := range allowed {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	return unknown
}

// runScripts runs the allowed preinstall scripts, links the bins, then
// runs the install and postinstall scripts, in dependency order.
func (l *layout) runScripts(ctx context.Context) error {
	env := l.opts.Env
	if env == nil {
		env = os.Environ()
	}
	runEvent := func(event string) error {
		for _, ps := range l.run {
			sc := ps.scripts[event]
			if sc == "" {
				continue
			}
			p := ps.pkg
			logf(l.opts.Log, "pipbake: %s: running its %s script: %s", p.ID(), event, sc)
			if err := l.u.runScript(ctx, env, l.sel.Runtime, p, event, sc, l.opts.Log); err != nil {
				return err
			}
			l.res.Scripts = append(l.res.Scripts, ScriptRun{Package: p.Path, Name: p.Name, Version: p.Version, Event: event, Script: sc})
		}
		return nil
	}
	if err := runEvent("preinstall"); err != nil {
		return err
	}
	bins, changed, err := l.u.linkBins(l.sel.Lock, l.sel.Packages)
	if err != nil {
		return err
	}
	l.bins, l.changed, l.res.Bins = bins, changed, bins
	for _, ev := range []string{"install", "postinstall"} {
		if err := runEvent(ev); err != nil {
			return err
		}
	}
	return nil
}

// writeHiddenLock writes node_modules/.package-lock.json, last: npm
// trusts it only when it is newer than every package folder.
func (l *layout) writeHiddenLock(context.Context) error {
	if len(l.sel.Packages) == 0 {
		return nil
	}
	data, err := l.hiddenLock()
	if err != nil {
		return fmt.Errorf("write node_modules/%s: %w", HiddenLockName, err)
	}
	rec, err := l.u.writeFile("node_modules/"+HiddenLockName, data)
	if err != nil {
		return err
	}
	l.hidden = append(l.hidden, rec)
	return nil
}

// listFiles fills Result.Files, sorted by path: from what the phases
// wrote (files linkBins made executable stat'ed again), or, when scripts
// ran (they may have changed anything), from the tree as it is.
func (l *layout) listFiles() error {
	res := l.res
	if len(res.Scripts) > 0 {
		var err error
		res.Files, err = l.u.walk()
		return err
	}
	byPath := map[string]*fileRec{}
	for i := range l.files {
		byPath[l.files[i].rel] = &l.files[i]
	}
	for _, rel := range l.changed {
		if rec, ok := byPath[rel]; ok {
			if err := l.u.restat(rec); err != nil {
				return err
			}
		}
	}
	for _, f := range append(l.files, l.hidden...) {
		res.Files = append(res.Files, File{Path: f.rel, Mode: f.mode, Size: f.size, SHA256: hex.EncodeToString(f.sum[:])})
	}
	res.Files = append(res.Files, l.links...)
	for _, b := range l.bins {
		res.Files = append(res.Files, File{Path: b.Path, Mode: fs.ModeSymlink | 0o777, Size: int64(len(b.Target)), Link: b.Target})
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
	return nil
}

// listPackages fills Result.Packages (the selection's order), Skipped
// and App.
func (l *layout) listPackages() {
	s, res := l.sel, l.res
	counts := map[*Package]int{}
	for _, j := range l.jobs {
		counts[j.pkg] = len(j.out.files)
	}
	for _, p := range s.Packages {
		in := Installed{Path: p.Path, Name: p.Name, Version: p.Version, Kind: p.Kind().String(), License: p.License,
			Dev: p.Dev, Optional: p.Optional, Files: counts[p], Dependencies: s.Dependencies(p)}
		if !p.Integrity.IsZero() {
			in.Integrity = p.Integrity.String()
		}
		switch p.Kind() {
		case Linked:
			in.Link = p.LinkTarget()
		case Registry, Remote, LocalTarball:
			in.Resolved = redactURL(p.Resolved)
		}
		res.Packages = append(res.Packages, in)
	}
	for _, sk := range s.Skipped {
		res.Skipped = append(res.Skipped, Skipped{Path: sk.Package.Path, ID: sk.Package.ID(), Reason: sk.Reason})
	}
	if l.app != nil {
		res.App = &App{File: l.app.file, Integrity: l.app.sri, Files: len(l.app.out.files)}
	}
}
