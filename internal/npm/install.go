package npm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/outfile"
)

// InstallOptions describe one layout of a Node set into a release.
type InstallOptions struct {
	// Selection is what to lay out: Lock.Select for the target's node.
	Selection *Selection
	// Tarballs holds the selected packages' tarballs (TarballFile names).
	Tarballs *Tarballs
	// Dir is the release directory. It must exist; Install writes the
	// project's package.json, its lock, node_modules and the app there.
	// On error Dir holds a partial layout: remove it.
	Dir string
	// App, when set, is the project's own code: a tarball as `npm pack`
	// makes it, unpacked at Dir like a package (it may not write into
	// node_modules). AppIntegrity, when set, is checked against it.
	App, AppIntegrity string
	// PackageJSON is the project's package.json, written at Dir unless
	// App brings one; nil makes one from the lock's root entry.
	PackageJSON []byte
	// ScriptsAllow names the packages whose preinstall, install and
	// postinstall scripts run (no other script runs).
	ScriptsAllow []string
	// Jobs is the number of tarballs unpacked at once (default 4 per CPU).
	Jobs int
	// Log receives notes and the scripts' output (nil: discard).
	Log io.Writer
	// Env is the base environment of scripts (nil: this process's).
	Env []string
	// Store, when set, is a store of unpacked packages (internal/npmstore):
	// a package it holds (by the lock's integrity) is laid out from it,
	// without reading its tarball; one it lacks is stored once laid out.
	Store *npmstore.Store
	// Link lays packages the Store holds out as hard links to its copies
	// of their files (as pnpm does) instead of writing them: an install
	// writes no package file at all, but its release shares each file
	// with the store and every other release linked from it, so a file
	// changed in place in one changes in all. It needs the Store on the
	// release's file system (else files are written, and Log says so),
	// and is not used when ScriptsAllow names any package (scripts could
	// write into linked files).
	Link bool
}

// Result is what a receipt needs of a layout.
type Result struct {
	// Packages are the laid-out entries, sorted by path.
	Packages []Installed `json:"packages"`
	// Skipped are the entries left out for the target.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Engines lists "engines" the target's node does not satisfy.
	Engines []string `json:"engines,omitempty"`
	// Files are every file and link Install wrote, sorted by path.
	Files []File `json:"files"`
	// Bins are the links in node_modules/.bin folders.
	Bins []Bin `json:"bins,omitempty"`
	// Scripts are the lifecycle scripts run, in order; NotRun names the
	// packages whose scripts were not allowed.
	Scripts []ScriptRun `json:"scripts,omitempty"`
	NotRun  []string    `json:"scripts_not_run,omitempty"`
	// App is the project's own tarball, when there was one.
	App *App `json:"app,omitempty"`
	// Stored counts the packages laid out from the Store, Unpacked
	// those from their tarballs (not in the receipt: the store's state
	// must not change a release).
	Stored, Unpacked int `json:"-"`
	// Linked counts the packages of Stored laid out as hard links (Link).
	Linked int `json:"-"`
}

// Installed is one laid-out entry of the lock.
type Installed struct {
	Path      string `json:"path"`
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind"` // registry, remote, file, link, bundled, folder
	Integrity string `json:"integrity,omitempty"`
	Resolved  string `json:"resolved,omitempty"`
	License   string `json:"license,omitempty"`
	Dev       bool   `json:"dev,omitempty"`
	Optional  bool   `json:"optional,omitempty"`
	// Link is a link's target, relative to the project.
	Link         string `json:"link,omitempty"`
	Dependencies []Edge `json:"dependencies,omitempty"`
	// Files counts the files its tarball brought (a bundled package's are
	// counted with the package that brings it).
	Files int `json:"files"`
}

// Skipped is an entry left out for the target.
type Skipped struct {
	Path   string `json:"path"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// File is one file or link of the layout, relative to the release.
type File struct {
	Path   string      `json:"path"`
	Mode   fs.FileMode `json:"mode"`
	Size   int64       `json:"size"`
	SHA256 string      `json:"sha256,omitempty"`
	Link   string      `json:"link,omitempty"`
}

// App is the project's own tarball.
type App struct {
	File      string `json:"file"`
	Integrity string `json:"integrity"`
	Files     int    `json:"files"`
}

var kindNames = map[Kind]string{Registry: "registry", Remote: "remote", LocalTarball: "file", Linked: "link", Bundled: "bundled", Folder: "folder"}

func (k Kind) String() string { return kindNames[k] }

// job is one tarball to unpack.
type job struct {
	pkg *Package // nil for the app
	// store and storeKey: to lay out from the store (its tarball read
	// only when the store's copy turns out damaged); fromStore: it was.
	store     *npmstore.Store
	storeKey  string
	fromStore bool
	linked    bool // laid out from the store as hard links
	src       *Tarballs
	file      string
	data      []byte
	size      int64
	out       *unpacked
	sri       string // the app's sha512 integrity
}

// Install lays the selection out into opts.Dir as `npm ci` would (with
// --omit=dev unless the selection kept them, and --ignore-scripts but for
// ScriptsAllow), without network: every tarball's integrity is checked
// first, all of them, before anything is written (but for packages laid
// out from opts.Store, whose tarballs are not read); then they are unpacked
// in parallel, streaming; bundled packages are checked, links made,
// package.json and the lock written; a package that needs a native build
// and is not allowed to run scripts fails the install; the allowed
// packages' preinstall scripts run, bins are linked, then their install
// and postinstall scripts, in dependency order; node_modules/.package-lock.json
// is written last. Each step is a phase of layout (layout.go).
func Install(ctx context.Context, opts InstallOptions) (*Result, error) {
	l, err := newLayout(opts)
	if err != nil {
		return nil, err
	}
	for _, phase := range []func(context.Context) error{
		l.tarballJobs,
		l.readApp,
		l.verify,
		l.unpack,
		l.project,
		l.planScripts,
		l.runScripts,
		l.writeHiddenLock,
	} {
		if err := phase(ctx); err != nil {
			return nil, err
		}
	}
	if err := l.listFiles(); err != nil {
		return nil, err
	}
	l.listPackages()
	return l.res, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// maxHeld is how many tarball bytes the check keeps in memory for the
// unpacking; beyond it they are read again (and checked again).
const maxHeld = 1 << 30

// verifyAll reads every tarball and checks it against the lock's
// integrity, on every CPU; every mismatch is reported.
func verifyAll(t *Tarballs, jobs []*job) error {
	errs := make([]error, len(jobs))
	var held atomic.Int64
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for i, j := range jobs {
		g.Go(func() error {
			data, err := t.Read(j.file)
			if err != nil {
				errs[i] = fmt.Errorf("read %s for %s: %w", j.file, j.pkg.Label(), err)
				return nil
			}
			if err := checkIntegrity(j, data); err != nil {
				errs[i] = err // every mismatch is said, not the first only
				return nil
			}
			j.size = int64(len(data))
			if held.Add(j.size) <= maxHeld {
				j.data = data
			}
			return nil
		})
	}
	g.Wait()
	return errors.Join(errs...)
}

func checkIntegrity(j *job, data []byte) error {
	h := j.pkg.Integrity.New()
	h.Write(data)
	if sum := h.Sum(nil); !j.pkg.Integrity.Matches(sum) {
		got := Integrity{Algorithm: j.pkg.Integrity.Algorithm, Digests: [][]byte{sum}}
		return fmt.Errorf("%s for %s does not match the lock's integrity: it hashes to %s, the lock (line %d) says %s", j.file, j.pkg.Label(), got, j.pkg.Line, j.pkg.Integrity)
	}
	return nil
}

// unpackAll unpacks the jobs, in their order, on up to workers goroutines,
// stopping at the first error.
func (u *unpacker) unpackAll(ctx context.Context, jobs []*job, own map[string]*Package, workers int) error {
	if workers <= 0 {
		workers = 4 * runtime.NumCPU()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, j := range jobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return u.unpackJob(j, own)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

func (u *unpacker) unpackJob(j *job, own map[string]*Package) (err error) {
	var stored *npmstore.Package
	if j.storeKey != "" {
		// A large store file is read through a mapping: were it cut short
		// meanwhile by another program, reading it faults. That fails
		// this install (its release is removed), and crashes nothing.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				if _, fault := r.(interface{ Addr() uintptr }); !fault {
					panic(r)
				}
				err = fmt.Errorf("lay out %s from the npm store %s: its store file changed while it was read (%v)", j.pkg.Label(), j.store.Dir(), r)
			}
		}()
		if u.link {
			out, ok, err := u.linkStored(j, u.specOf(j, own))
			if err != nil {
				return err
			}
			if ok {
				j.out, j.fromStore, j.linked = out, true, true
				return nil
			}
			// Not in the store after all (damaged): from its tarball.
		} else {
			stored, j.fromStore = j.store.Get(j.storeKey)
			defer stored.Close()
		}
	}
	data := j.data
	if data == nil && j.pkg != nil && !j.fromStore {
		var err error
		if data, err = readAgain(j); err != nil {
			return err
		}
	}
	spec := u.specOf(j, own)
	var out *unpacked
	if j.fromStore {
		out, err = u.unpackStored(stored, spec)
	} else {
		out, err = u.unpack(data, spec)
	}
	if err != nil {
		return err
	}
	j.out = out
	j.data = nil
	return nil
}

// specOf says where job j's files go.
func (u *unpacker) specOf(j *job, own map[string]*Package) unpackSpec {
	spec := unpackSpec{file: j.file}
	if j.pkg == nil {
		spec.label, spec.noNodeModules = "the app", true
		return spec
	}
	p := j.pkg
	spec.label, spec.dest = p.ID(), p.Path
	spec.inside = func(rel string) error {
		if q := ownerOf(rel, own); q != nil && q != p {
			return fmt.Errorf("lands in %s, which the lock installs from its own tarball", q.Path)
		}
		return nil
	}
	return spec
}

// store puts the packages unpacked from their tarballs into the store,
// from the files just written (before any script runs), on every CPU. A
// store that refuses one is said once; the install goes on.
func (u *unpacker) store(st *npmstore.Store, jobs []*job, log io.Writer) {
	var failed atomic.Int64
	// The first refusal. (An atomic.Value here panicked on a second
	// error of another type.)
	var first atomic.Pointer[error]
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for _, j := range jobs {
		if j.pkg.Integrity.IsZero() {
			continue
		}
		g.Go(func() error {
			files := make([]npmstore.PutFile, len(j.out.files))
			prefix := j.pkg.Path + "/"
			for k, f := range j.out.files {
				files[k] = npmstore.PutFile{Path: strings.TrimPrefix(f.rel, prefix), Mode: f.perm, SHA256: f.sum,
					Source: filepath.Join(u.root, filepath.FromSlash(f.rel))}
			}
			if err := st.Put(j.pkg.Integrity.String(), files); err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, &err)
			}
			return nil
		})
	}
	g.Wait()
	if n := failed.Load(); n > 0 {
		logf(log, "pipbake: warning: npm store %s: %d packages not stored: %v", st.Dir(), n, *first.Load())
	}
}

// readAgain reads a tarball not kept since its check, and checks it
// again.
func readAgain(j *job) ([]byte, error) {
	data, err := j.src.Read(j.file)
	if err != nil {
		return nil, err
	}
	return data, checkIntegrity(j, data)
}

// ownerOf is the deepest laid-out package whose folder holds rel.
func ownerOf(rel string, own map[string]*Package) *Package {
	var found *Package
	for i := 0; ; {
		k := strings.Index(rel[i:], "node_modules/")
		if k < 0 {
			return found
		}
		start := i + k + len("node_modules/")
		end := strings.IndexByte(rel[start:], '/')
		if end < 0 {
			return found
		}
		end += start
		if rel[start] == '@' {
			e2 := strings.IndexByte(rel[end+1:], '/')
			if e2 < 0 {
				return found
			}
			end = end + 1 + e2
		}
		if p := own[rel[:end]]; p != nil {
			found = p
		}
		i = end
	}
}

// checkBundled checks that every bundled package came in its tarball.
func (u *unpacker) checkBundled(s *Selection) error {
	var missing []string
	for _, p := range s.Packages {
		if p.Kind() != Bundled {
			continue
		}
		if _, err := os.Stat(filepath.Join(u.root, filepath.FromSlash(p.Path), "package.json")); err != nil {
			missing = append(missing, p.Label())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("bundled packages missing from the tarballs that should bring them: %s", strings.Join(missing, ", "))
	}
	return nil
}

// makeLinks makes the lock's links (workspaces): relative symlinks to
// folders of the project, which the app must have brought.
func (u *unpacker) makeLinks(s *Selection) ([]File, error) {
	var out []File
	for _, p := range s.Packages {
		if p.Kind() != Linked {
			continue
		}
		target := p.LinkTarget()
		fi, err := os.Lstat(filepath.Join(u.root, filepath.FromSlash(target)))
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s links to %s, which is not a folder of the release (the app tarball should bring it)", p.Path, target)
		}
		rel, err := filepath.Rel(filepath.FromSlash(path.Dir(p.Path)), filepath.FromSlash(target))
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		dest := filepath.Join(u.root, filepath.FromSlash(p.Path))
		if err := u.dirs.Ensure(filepath.Dir(dest)); err != nil {
			return nil, err
		}
		if err := os.Symlink(rel, dest); err != nil {
			return nil, fmt.Errorf("link %s: %w", p.Path, err)
		}
		out = append(out, File{Path: p.Path, Mode: fs.ModeSymlink | 0o777, Size: int64(len(rel)), Link: rel})
	}
	return out, nil
}

// writeProject writes the project's package.json and its lock at the
// release root, unless the app brought them.
func (u *unpacker) writeProject(lk *Lock, opts InstallOptions, app *job) ([]fileRec, error) {
	brought := map[string]bool{}
	if app != nil {
		for _, f := range app.out.files {
			brought[f.rel] = true
		}
	}
	var out []fileRec
	if !brought["package.json"] {
		data := opts.PackageJSON
		if data == nil {
			data = packageJSONFromLock(lk)
		}
		rec, err := u.writeFile("package.json", data)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	name := "package-lock.json"
	if b := filepath.Base(lk.Path); b == "npm-shrinkwrap.json" {
		name = b
	}
	if !brought[name] && lk.Bytes() != nil {
		rec, err := u.writeFile(name, lk.Bytes())
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// packageJSONFromLock makes a package.json from the lock's root entry:
// name, version and the dependency fields, which is what npm reads of it.
func packageJSONFromLock(lk *Lock) []byte {
	m := map[string]any{}
	if lk.Root.Name != "" {
		m["name"] = lk.Root.Name
	}
	if lk.Root.Version != "" {
		m["version"] = lk.Root.Version
	}
	for k, v := range map[string]map[string]string{
		"dependencies": lk.Root.Dependencies, "optionalDependencies": lk.Root.OptionalDependencies,
		"peerDependencies": lk.Root.PeerDependencies, "devDependencies": lk.Root.DevDependencies,
	} {
		if len(v) > 0 {
			m[k] = v
		}
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	return append(data, '\n')
}

// writeFile writes a file pipbake makes (0666 less the umask).
func (u *unpacker) writeFile(rel string, data []byte) (fileRec, error) {
	dest := filepath.Join(u.root, filepath.FromSlash(rel))
	if err := u.dirs.Ensure(filepath.Dir(dest)); err != nil {
		return fileRec{}, err
	}
	f, err := outfile.Create(dest, 0o666)
	if err != nil {
		return fileRec{}, fmt.Errorf("write %s: %w", rel, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileRec{}, fmt.Errorf("write %s: %w", rel, err)
	}
	return fileRec{rel: rel, size: int64(len(data)), sum: sha256.Sum256(data), mode: 0o666 &^ u.umask}, nil
}

// restat reads a file's mode, size and hash again (after a bin link made
// it executable or rewrote its first line).
func (u *unpacker) restat(rec *fileRec) error {
	p := filepath.Join(u.root, filepath.FromSlash(rec.rel))
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	rec.mode, rec.size, rec.sum = fi.Mode().Perm(), int64(len(data)), sha256.Sum256(data)
	return nil
}

// walk records every file and link of the release as it is.
func (u *unpacker) walk() ([]File, error) {
	var out []File
	err := filepath.WalkDir(u.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == u.root || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(u.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, File{Path: rel, Mode: fs.ModeSymlink | 0o777, Size: int64(len(t)), Link: t})
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			out = append(out, File{Path: rel, Mode: fi.Mode().Perm(), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		default:
			return fmt.Errorf("%s is neither a file, a folder nor a link", rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record the release after its scripts: %w", err)
	}
	return out, nil
}
