package bake

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/bundle"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// The Packer host keeps a bytecode cache (internal/pyccache) for the
// machines it bakes: the bundle carries, as one pack, the cached .pyc of
// every module the chosen wheels install, for the interpreter probed on
// the machine; the agent uses the pack as its cache, compiles only what
// it lacks, and moves what it compiled into a pack of its own
// (install --bytecode-return), which comes back with the receipts and
// enters the host cache. Entries are renamed into place, so bakes running
// in parallel on one host cache stay consistent.
//
// The host takes back only entries it asked for (the keys of the
// modules the chosen wheels install, for that interpreter), whole, with
// that interpreter's magic number: a machine can add no other entry. It
// is trusted, as its receipts are, to have compiled what it was given.

// Where the bytecode travels: the pack in the bundle (unpacked into the
// agent's cache folder, Staging/bytecode) and the pack the agent returns.
const (
	bytecodeDir      = "bytecode"
	bytecodeSent     = bytecodeDir + "/packs/host" + pyccache.PackSuffix
	bytecodeReturned = "bytecode-return" + pyccache.PackSuffix
)

// GeneratedBytecodeCache is the key of the generated data under which a
// builder that runs on the Packer host (pipbake-oci) names its bytecode
// cache folder, for the provisioner to use as the host cache.
const GeneratedBytecodeCache = "PipbakeBytecodeCache"

// hostBytecode is the host's cache during one bake; nil without one.
type hostBytecode struct {
	cache *pyccache.Cache
	logf  func(string, ...any)

	mu   sync.Mutex
	keys []pyccache.Key
	// want are the entries the machine may send back.
	want map[pyccache.ID]pyccache.Interp
	// seen are the (interpreter, wheel) pairs whose keys are listed.
	seen map[[2]string]bool
}

// openHostBytecode opens opts.BytecodeCache; a cache that cannot be opened
// is said and not used.
func openHostBytecode(opts Options) *hostBytecode {
	if opts.BytecodeCache == "" || opts.BytecodeCache == pyccache.Off {
		return nil
	}
	c, err := pyccache.Open(opts.BytecodeCache)
	if err != nil {
		opts.logf("pipbake: warning: bytecode cache not used: %v", err)
		return nil
	}
	return &hostBytecode{cache: c, logf: opts.logf, want: map[pyccache.ID]pyccache.Interp{}, seen: map[[2]string]bool{}}
}

func (h *hostBytecode) close() {
	if h != nil {
		h.cache.Close()
	}
}

// addWheels lists the bytecode keys of the modules the wheels (local
// paths) chosen for set s install with interpreter t. A wheel that cannot
// be read here is left to the agent, which reports it.
func (h *hostBytecode) addWheels(t *target.Target, s plan.Set, wheels []string) {
	if h == nil || !s.CompileOrDefault() || (s.Installer != "" && s.Installer != "native") {
		return
	}
	in, err := pyccache.InterpOf(t)
	if err != nil {
		h.logf("pipbake: note: set %q: no bytecode cache for Python %s: %v", s.Name, t.VersionFull, err)
		return
	}
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for _, w := range wheels {
		k := [2]string{in.Magic + " " + t.Executable + " " + fmt.Sprint(t.Paths), w}
		h.mu.Lock()
		dup := h.seen[k]
		h.seen[k] = true
		h.mu.Unlock()
		if dup {
			continue
		}
		g.Go(func() error {
			keys := bytecodeKeys(t, in, w)
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, k := range keys {
				h.keys = append(h.keys, k)
				h.want[k.ID()] = in
			}
			return nil
		})
	}
	_ = g.Wait()
}

// bytecodeKeys are the keys of the modules wheel p installs into an
// environment for t: their sha256 from RECORD, their path relative to the
// environment, as the native installer compiles them.
func bytecodeKeys(t *target.Target, in pyccache.Interp, p string) []pyccache.Key {
	w, err := wheel.Open(p)
	if err != nil {
		return nil
	}
	defer w.Close()
	const root = "/pipbake-env"
	dir := func(key string) string { return filepath.Join(root, filepath.FromSlash(t.Paths[key])) }
	inst, err := w.Prepare(wheel.Options{
		Scheme: wheel.Scheme{Purelib: dir("purelib"), Platlib: dir("platlib"), Scripts: dir("scripts"),
			Headers: filepath.Join(root, "include", "site"), Data: root},
		Root: root, Python: filepath.Join(dir("scripts"), "python"), PythonVersion: [2]int{t.Version[0], t.Version[1]},
	})
	if err != nil {
		return nil
	}
	var keys []pyccache.Key
	for _, j := range inst.Jobs() {
		src := j.RecordSHA256()
		if !j.Python || len(src) != 32 {
			continue
		}
		rel, err := filepath.Rel(root, j.Dest)
		if err != nil {
			continue
		}
		k := pyccache.Key{Interp: in, Path: filepath.ToSlash(rel)}
		copy(k.Source[:], src)
		keys = append(keys, k)
	}
	return keys
}

// addTo puts into the bundle a pack of the cached entries for every key
// listed (written under tmp).
func (h *hostBytecode) addTo(b *bundle.Bundle, tmp string) error {
	if h == nil || len(h.keys) == 0 {
		return nil
	}
	name := filepath.Join(tmp, "bytecode"+pyccache.PackSuffix)
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("bytecode pack for the machine: %w", err)
	}
	st, err := h.cache.WritePack(f, h.keys)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bytecode pack for the machine from %s: %w", h.cache.Dir(), err)
	}
	h.logf("pipbake: bytecode cache %s: %d of %d modules' .pyc sent (%s)", h.cache.Dir(), st.Entries, st.Entries+st.Missing, pyccache.FormatSize(st.Bytes))
	if st.Entries == 0 {
		return nil
	}
	return b.AddFile(bytecodeSent, name, 0o644)
}

// agentArgs are the agent's bytecode cache options: the staging folder's
// cache with the pack the bundle brought, its new entries returned. With
// the host cache off (or not usable) the agent keeps none either, so it
// never leaves one in the image; with none set (push) the agent's own
// default stands.
func (h *hostBytecode) agentArgs(opts Options) []string {
	if h == nil {
		if opts.BytecodeCache == "" {
			return nil
		}
		return []string{"--bytecode-cache", pyccache.Off}
	}
	args := []string{"--bytecode-cache", opts.Staging + "/" + bytecodeDir}
	if p := h.returnPath(opts.Staging); p != "" {
		args = append(args, "--bytecode-return", p)
	}
	return args
}

// returnPath is where the agent leaves the pack of what it compiled: in
// the staging folder, when that is an absolute path (the receipts come
// back by absolute path).
func (h *hostBytecode) returnPath(staging string) string {
	if h == nil || !path.IsAbs(staging) {
		return ""
	}
	return path.Clean(staging + "/" + bytecodeReturned)
}

// take stores in the host cache what the machine compiled, from what
// bringBack read.
func (h *hostBytecode) take(files map[string][]byte, staging string) {
	p := h.returnPath(staging)
	if p == "" {
		return
	}
	data, ok := files[p]
	if !ok {
		h.logf("pipbake: note: the machine's compiled bytecode did not come back (%s)", p)
		return
	}
	st, err := h.cache.ImportPack(bytes.NewReader(data), h.want)
	if err != nil {
		h.logf("pipbake: warning: bytecode cache %s: %d compiled files stored, then: %v", h.cache.Dir(), st.Stored, err)
		return
	}
	h.logf("pipbake: bytecode cache %s: %d files compiled on the machine stored (%d already there, %d refused)", h.cache.Dir(), st.Stored, st.Present, st.Refused)
}
