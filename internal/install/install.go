// Package install installs one pinned package set into a new release of a
// root: probe the interpreter, choose and verify the wheels, create the
// virtual environment, install the wheels in parallel while compiling
// bytecode, write the receipt and SBOM, and only then switch `current`.
package install

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// Installers.
const (
	Native = "native"
	Pip    = "pip"
)

// Set is one package set to install.
type Set struct {
	// Name names the set in receipts; defaults to the root's base name.
	Name string
	// Lock is the lock file's path.
	Lock string
	// Python is the interpreter to build the environment on (default python3).
	Python string
	// Root is the release root.
	Root string
	// Keep is how many releases to keep (default release.DefaultKeep).
	Keep int
	// Compile writes bytecode (the default).
	Compile bool
	// Installer is Native (default) or Pip.
	Installer string

	// Kind is plan.KindPython or plan.KindNode; default: what the lock is
	// (plan.KindOf). The fields below are for Node sets.
	Kind string
	// Node is the target's node (default: node on the PATH).
	Node string
	// IncludeDev installs the dev dependencies too.
	IncludeDev bool
	// ScriptsAllow names the packages whose lifecycle scripts run.
	ScriptsAllow []string
	// App is the app's own tarball (npm pack), unpacked at the release root.
	App string
}

// Options are shared by every set of one run.
type Options struct {
	// Release is the release id; default release.NewID(now, lock sha256).
	Release string
	// Wheelhouse is the folder of wheels, or a tar archive of them.
	Wheelhouse string
	// Tarballs is the folder of npm tarballs, or a tar archive of them
	// (default: Wheelhouse).
	Tarballs string
	// ReceiptsDir, when set, also gets a copy of each receipt as <set>.json.
	ReceiptsDir string
	// Log receives progress lines (nil: discard).
	Log io.Writer
	// Now is the clock (default time.Now); SOURCE_DATE_EPOCH overrides
	// the receipt's created time.
	Now func() time.Time
	// Jobs is the number of extraction goroutines (default 4 per CPU).
	Jobs int
	// Version is pipbake's version for receipts.
	Version string
	// ReleaseCache, when set, is a folder of finished releases (cache.go):
	// a set found there is restored instead of installed, and a set
	// installed is stored there when the folder is writable.
	ReleaseCache string
	// BytecodeCache, when set, is the folder of the bytecode cache
	// (internal/pyccache) the native installer copies .pyc files from and
	// stores the ones it compiles in.
	BytecodeCache string
	// BytecodeCacheTransient says BytecodeCache is thrown away after the
	// install (a bake's, whose new entries go back to the Packer host):
	// no wheel packs are written to it.
	BytecodeCacheTransient bool
	// NpmStore, when set, is the folder of the store of unpacked npm
	// packages (internal/npmstore) Node sets are laid out from and add to.
	NpmStore string
	// NpmLink lays a Node set's packages out as hard links to the npm
	// store's copies of their files (npm.InstallOptions.Link): faster and
	// smaller, but the release shares its files with the store and with
	// every release linked from it.
	NpmLink bool
}

// Result describes a finished install.
type Result struct {
	Set      string           `json:"set"`
	Release  string           `json:"release"`
	Root     string           `json:"root"`
	Path     string           `json:"path"`
	Receipt  *receipt.Receipt `json:"-"`
	Pruned   []string         `json:"pruned"`
	Skipped  bool             `json:"already_current"`
	Duration time.Duration    `json:"duration_ns"`
	// Unit is the systemd unit written for the set's service, if any
	// (set by the caller that enables it).
	Unit string `json:"unit,omitempty"`
	// CompileErrors lists sources that did not compile (as pip, the
	// install goes on without their bytecode).
	CompileErrors []string `json:"compile_errors,omitempty"`
	// Bytecode counts the .pyc files the native installer wrote, by
	// origin (nil without bytecode, with pip, for a Node set, or a release
	// restored from the release cache or already current). Not in the
	// receipt: a receipt that depended on the bytecode cache's state would
	// make a cold and a warm install of the same lock differ.
	Bytecode *Bytecode `json:"bytecode,omitempty"`
	// NpmStore counts a Node set's packages by where they came from (nil
	// without a store); like Bytecode, not in the receipt.
	NpmStore *NpmStore `json:"npm_store,omitempty"`
}

// NpmStore counts a Node set's packages laid out from the npm store
// (internal/npmstore) and unpacked from their tarballs.
type NpmStore struct {
	Stored   int `json:"stored"`
	Unpacked int `json:"unpacked"`
	// Linked counts the packages of Stored laid out as hard links.
	Linked int `json:"linked,omitempty"`
}

// Bytecode counts the .pyc files of an install by where they came from:
// compiled by the interpreter, or copied from the bytecode cache.
type Bytecode struct {
	Compiled int `json:"compiled"`
	Cached   int `json:"cached"`
}

// String says the counts as the install's log line does: "812 .pyc from
// the cache, 3 compiled".
func (b Bytecode) String() string {
	return fmt.Sprintf("%d .pyc from the cache, %d compiled", b.Cached, b.Compiled)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// progressDelay is how long an install runs before it reports progress
// (tests shorten it).
var progressDelay = progress.DefaultDelay

// recordTotals counts the files and bytes the wheels' RECORDs list, for
// the log.
func recordTotals(wheels []*wheel.Wheel) (files int, size int64) {
	for _, w := range wheels {
		for _, e := range w.Record {
			files++
			size += max(e.Size, 0)
		}
	}
	return files, size
}

// Run installs set and makes it current: Stage, then Commit.
func Run(ctx context.Context, set Set, opts Options) (*Result, error) {
	res, err := RunAll(ctx, []Set{set}, opts, nil)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// RunAll installs sets and makes them all current, or none: StageAll, then
// CommitAll with steps.
func RunAll(ctx context.Context, sets []Set, opts Options, steps []Step) ([]*Result, error) {
	staged, err := StageAll(ctx, sets, opts)
	if err != nil {
		return nil, err
	}
	return CommitAll(staged, steps)
}

// Staged is a set installed and verified as a new release that is not yet
// current. It holds the root's lock until Commit or Abort, so several sets
// can be staged and then all made current together.
type Staged struct {
	set    Set
	opts   Options
	root   *release.Root
	id     string
	unlock func()
	result *Result
	done   bool
}

// Stage installs set as a new release without touching current. On error
// nothing is left behind.
func Stage(ctx context.Context, set Set, opts Options) (*Staged, error) {
	staged, err := StageAll(ctx, []Set{set}, opts)
	if err != nil {
		return nil, err
	}
	return staged[0], nil
}

// StageAll stages every set: first it checks them all (locks, interpreters,
// every wheel's hash) without writing anything, then takes every root's
// lock, in path order so that installs of plans sharing roots cannot
// deadlock, then installs each set as a new release. On error nothing is
// left behind and no lock is held.
func StageAll(ctx context.Context, sets []Set, opts Options) ([]*Staged, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var ps []*prepared
	defer func() {
		for _, p := range ps {
			p.close()
		}
	}()
	roots := map[string]string{}
	for _, s := range sets {
		p, err := check(ctx, s, opts)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
		if other, dup := roots[p.root.Dir]; dup {
			return nil, fmt.Errorf("sets %q and %q both install into %s; each set needs its own root", other, p.set.Name, p.root.Dir)
		}
		roots[p.root.Dir] = p.set.Name
	}
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ps[order[a]].root.Dir < ps[order[b]].root.Dir })
	unlocks := make([]func(), len(ps))
	unlockAll := func() {
		for _, u := range unlocks {
			if u != nil {
				u()
			}
		}
	}
	for _, i := range order {
		u, err := ps[i].root.Lock()
		if err != nil {
			unlockAll()
			return nil, err
		}
		unlocks[i] = u
	}
	staged := make([]*Staged, 0, len(ps))
	for i, p := range ps {
		st, err := p.stage(ctx, opts, unlocks[i])
		if err != nil {
			for _, done := range staged {
				_ = done.abort()
			}
			unlockAll()
			return nil, err
		}
		staged = append(staged, st)
	}
	return staged, nil
}

// prepared is a set checked without writing: its root opened, its
// release id chosen, and what its ecosystem checks (lock, runtime,
// packages) done.
type prepared struct {
	set   Set
	root  *release.Root
	lay   layout
	id    string
	start time.Time
}

func (p *prepared) close() {
	if p.lay != nil {
		p.lay.close()
		p.lay = nil
	}
}

// check is everything that can be checked of a set without writing.
func check(ctx context.Context, set Set, opts Options) (_ *prepared, err error) {
	p := &prepared{start: time.Now()}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if set.Keep == 0 {
		set.Keep = release.DefaultKeep
	}
	if set.Root == "" || set.Lock == "" {
		return nil, fmt.Errorf("set %q: lock and root are required", set.Name)
	}
	if p.root, err = release.Open(set.Root); err != nil {
		return nil, err
	}
	if set.Name == "" {
		set.Name = filepath.Base(p.root.Dir)
	}
	set.Kind = plan.KindOf(set.Kind, set.Lock)
	eco, ok := ecosystems[set.Kind]
	if !ok {
		return nil, fmt.Errorf("set %q: kind %q is not %q or %q", set.Name, set.Kind, plan.KindPython, plan.KindNode)
	}
	if p.lay, set, err = eco.check(ctx, set, opts); err != nil {
		return nil, err
	}
	p.set = set
	p.id = opts.Release
	if p.id == "" {
		p.id = release.NewID(opts.Now(), p.lay.lockSHA256())
	}
	if err := release.ValidID(p.id); err != nil {
		return nil, err
	}
	return p, nil
}

// stage installs a checked set as a new release, the root's lock held. On
// error the release is removed; the lock stays with the caller.
func (p *prepared) stage(ctx context.Context, opts Options, unlock func()) (st *Staged, err error) {
	set, root, id, lay, start := p.set, p.root, p.id, p.lay, p.start
	dir, err := root.Prepare(id)
	if errors.Is(err, release.ErrCurrent) {
		res, err := alreadyCurrent(root, set, id, lay, start)
		if err != nil {
			return nil, err
		}
		return &Staged{set: set, opts: opts, root: root, id: id, unlock: unlock, result: res}, nil
	}
	if err != nil {
		return nil, err
	}
	opts.logf("pipbake: %s: installing %s into %s", set.Name, lay.summary(), dir)
	defer func() {
		if err != nil {
			if rmErr := root.Abort(id); rmErr != nil {
				err = fmt.Errorf("%w (and removing the failed release %s: %v)", err, dir, rmErr)
			}
		}
	}()

	if opts.ReleaseCache != "" {
		res, err := p.restoreCached(dir, opts)
		if err != nil {
			return nil, err
		}
		if res != nil {
			return &Staged{set: set, opts: opts, root: root, id: id, unlock: unlock, result: res}, nil
		}
	}
	rc, out, err := lay.install(ctx, set, id, dir, opts)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", set.Name, err)
	}
	// Check the tree against the RECORDs (or the manifest) and record in
	// the receipt what verify holds the release to, then write SBOM and
	// receipt.
	// The SBOM reads nothing the seal records (the files, their modes,
	// the RECORDs' digests): rendered from a copy of the receipt while the
	// tree is checked.
	type rendered struct {
		data []byte
		err  error
	}
	sbom := make(chan rendered, 1)
	snap := *rc
	snap.Distributions = slices.Clone(rc.Distributions)
	go func() {
		data, err := snap.SBOM()
		sbom <- rendered{data, err}
	}()
	rep, err := receipt.SealKnown(dir, rc, out.known)
	sb := <-sbom
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", set.Name, err)
	}
	if sb.err != nil {
		return nil, fmt.Errorf("set %q: render SBOM: %w", set.Name, sb.err)
	}
	if !rep.Clean() {
		return nil, fmt.Errorf("set %q: the new release %s does not verify: %s", set.Name, id, describe(rep.Problems))
	}
	if err := syncTree(dir); err != nil {
		return nil, fmt.Errorf("set %q: flush release %s to disk: %w", set.Name, dir, err)
	}
	if err := rc.WriteWithSBOM(dir, sb.data); err != nil {
		return nil, fmt.Errorf("set %q: %w", set.Name, err)
	}
	if opts.ReleaseCache != "" {
		p.storeFresh(dir, opts)
	}
	res := &Result{Set: set.Name, Release: id, Root: root.Dir, Path: dir, Receipt: rc,
		Duration: time.Since(start), CompileErrors: out.notes, Bytecode: out.bytecode, NpmStore: out.npmStore}
	return &Staged{set: set, opts: opts, root: root, id: id, unlock: unlock, result: res}, nil
}

// Commit makes the staged release current: CommitAll of one set.
func (st *Staged) Commit() (*Result, error) {
	res, err := CommitAll([]*Staged{st}, nil)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// Abort removes the staged release; current is untouched.
func (st *Staged) Abort() error {
	if st.done {
		return nil
	}
	st.done = true
	defer st.unlock()
	return st.abort()
}

func (st *Staged) abort() error {
	if st.result.Skipped {
		return nil
	}
	return st.root.Abort(st.id)
}

// Result is the staged release's description (Pruned is filled by Commit).
func (st *Staged) Result() *Result { return st.result }

func describe(ps []receipt.Problem) string {
	var parts []string
	for i, p := range ps {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		parts = append(parts, p.Kind+" "+p.Path+" ("+p.Detail+")")
	}
	return strings.Join(parts, "; ")
}

// alreadyCurrent makes a repeated install of the current release a no-op
// when it was made from the same lock and interpreter.
func alreadyCurrent(root *release.Root, set Set, id string, lay layout, start time.Time) (*Result, error) {
	dir := root.Path(id)
	rc, err := receipt.Read(dir)
	if err != nil {
		return nil, err
	}
	if rc.Lock.SHA256 != lay.lockSHA256() || rc.Interpreter.Path != lay.runtimePath() || rc.Runtime() != set.Kind {
		return nil, fmt.Errorf("set %q: release %q is current in %s but was installed from another lock or runtime (lock sha256 %.12s, %s %s); install under a new release id",
			set.Name, id, root.Dir, rc.Lock.SHA256, rc.Runtime(), rc.Interpreter.Path)
	}
	rep, err := receipt.Verify(dir, receipt.Options{})
	if err != nil {
		return nil, err
	}
	if !rep.Clean() {
		return nil, fmt.Errorf("set %q: release %q is current in %s but has drifted: %s; install under a new release id", set.Name, id, root.Dir, describe(rep.Problems))
	}
	return &Result{Set: set.Name, Release: id, Root: root.Dir, Path: dir, Receipt: rc, Skipped: true, Duration: time.Since(start)}, nil
}

// openVerified opens every chosen wheel, in parallel, checking its sha256
// against the lock before reading anything inside it; nothing is written.
// It reports every wheel that fails in one error, and returns each wheel's
// hex sha256.
func openVerified(house *wheelhouse.House, choices []wheelhouse.Choice) ([]*wheel.Wheel, []string, error) {
	wheels := make([]*wheel.Wheel, len(choices))
	digests := make([]string, len(choices))
	errs := make([]error, len(choices)) // every wheel's, not only the first
	eachWheel(len(choices), func(i int) error {
		c := choices[i]
		check := func(sum []byte) error {
			digests[i] = hex.EncodeToString(sum)
			return checkPin(c, digests[i])
		}
		w, err := house.OpenWheel(c, wheel.CheckDigest(check))
		var pe *pinError
		switch {
		case errors.As(err, &pe):
			errs[i] = err
		case err != nil:
			errs[i] = fmt.Errorf("%s==%s: %w", c.Pin.Name, c.Pin.Version, err)
		}
		wheels[i] = w
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		for _, w := range wheels {
			if w != nil {
				w.Close()
			}
		}
		return nil, nil, err
	}
	return wheels, digests, nil
}

// pinError is a wheel whose hash the lock does not allow.
type pinError struct{ msg string }

func (e *pinError) Error() string { return e.msg }

// checkPin checks a wheel's hex sha256 against the hashes its pin allows.
func checkPin(c wheelhouse.Choice, sum string) error {
	want := c.Pin.SHA256()
	if len(want) == 0 {
		return &pinError{fmt.Sprintf("%s==%s: the lock has no sha256 hash for it", c.Pin.Name, c.Pin.Version)}
	}
	for _, w := range want {
		if strings.EqualFold(w, sum) {
			return nil
		}
	}
	return &pinError{fmt.Sprintf("%s==%s: hash mismatch for %s: the file has sha256 %s, the lock (line %d) allows %s",
		c.Pin.Name, c.Pin.Version, c.Name.File, sum, c.Pin.Line, strings.Join(want, ", "))}
}
