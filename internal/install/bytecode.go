package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/bytecode"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/venv"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// bytecodeWriter writes the .pyc of every module the native installer
// extracts: copied from the bytecode cache when it holds the module's
// entry (no interpreter work), else compiled by a pool of the target's
// interpreters, started at the first miss, and then stored in the cache.
//
// Every module is compiled with its path relative to the environment as
// co_filename (CPython puts the real path in when it loads the .pyc), so
// the bytes depend neither on the release id nor on the root: the same in
// every release, cached or compiled.
type bytecodeWriter struct {
	ctx   context.Context
	tg    *target.Target
	env   *venv.Env
	cache *pyccache.Cache // nil: no cache
	in    pyccache.Interp
	log   func(format string, args ...any)

	poolOnce sync.Once
	pool     *bytecode.Pool
	poolErr  error

	// wheels are the wheel packs of the wheels installed, by their
	// installation (openWheels): read-only once opened.
	wheels map[*wheel.Install]*wheelBytecode
	// transient: the cache is a bake's scratch folder (its new entries go
	// back to the Packer host): no wheel packs are written to it.
	transient bool

	cached, compiled atomic.Int64
	mu               sync.Mutex
	compileErrs      []string // sources that do not compile
	storeErr         error    // the first entry the cache refused
	storeFailed      int
	noStore          atomic.Bool // the cache is full or read-only: stop trying
}

// newBytecodeWriter opens the cache folder dir ("" for none). A cache
// that cannot be opened, or an interpreter without a bytecode cache tag,
// leaves the install compiling everything.
func newBytecodeWriter(ctx context.Context, tg *target.Target, env *venv.Env, dir string, transient bool, log func(string, ...any)) *bytecodeWriter {
	b := &bytecodeWriter{ctx: ctx, tg: tg, env: env, log: log, transient: transient}
	if dir == "" {
		return b
	}
	in, err := pyccache.InterpOf(tg)
	if err != nil {
		log("pipbake: note: no bytecode cache for %s: %v", tg.Executable, err)
		return b
	}
	c, err := pyccache.Open(dir)
	if err != nil {
		log("pipbake: warning: bytecode cache not used: %v", err)
		return b
	}
	b.cache, b.in = c, in
	return b
}

// wheelBytecode is one wheel's part of the cache.
type wheelBytecode struct {
	digest []byte
	pack   *pyccache.WheelPack
	mu     sync.Mutex
	keys   []pyccache.Key // without a wheel pack: its modules', to write one
}

// openWheels opens the wheel pack of each wheel (digests: their hex
// sha256, in the order of installs), so most modules are read from one
// mapped file per wheel instead of a loose entry each.
func (b *bytecodeWriter) openWheels(installs []*wheel.Install, digests []string) {
	if b.cache == nil {
		return
	}
	b.wheels = make(map[*wheel.Install]*wheelBytecode, len(installs))
	for i, in := range installs {
		d, err := hex.DecodeString(digests[i])
		if err != nil || len(d) != sha256.Size {
			continue
		}
		b.wheels[in] = &wheelBytecode{digest: d, pack: b.cache.OpenWheel(d, b.in)}
	}
}

// packWheels writes the wheel pack of every wheel that had none, from
// the entries now in the cache, so the next install of it reads one file.
func (b *bytecodeWriter) packWheels() {
	if b.cache == nil || b.transient || b.noStore.Load() {
		return
	}
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for _, w := range b.wheels {
		if w.pack.Packed() || len(w.keys) == 0 {
			continue
		}
		g.Go(func() error {
			if _, err := b.cache.PutWheel(w.digest, b.in, w.keys); err != nil {
				b.storeFailure(err)
			}
			return nil
		})
	}
	_ = g.Wait() // failures are storeFailure's: the install goes on
}

// add writes the .pyc of a module just extracted, or queues it to be
// compiled.
func (b *bytecodeWriter) add(j *wheel.Job) error {
	rel, err := filepath.Rel(b.env.Dir, j.Dest)
	if err != nil {
		return fmt.Errorf("bytecode for %s: %w", j.Dest, err)
	}
	rel = filepath.ToSlash(rel)
	var key *pyccache.Key
	if src := j.RecordSHA256(); b.cache != nil && len(src) == sha256.Size {
		key = &pyccache.Key{Interp: b.in, Path: rel}
		copy(key.Source[:], src)
		get := b.cache.Get
		if w := b.wheels[j.Install()]; w != nil {
			get = w.pack.Get
			if !w.pack.Packed() {
				w.mu.Lock()
				w.keys = append(w.keys, *key)
				w.mu.Unlock()
			}
		}
		if pyc, sum, ok := get(*key); ok {
			if err := j.WriteBytecode(b.tg.CacheTag, pyc, sum[:]); err != nil {
				return err
			}
			b.cached.Add(1)
			return nil
		}
	}
	pool, err := b.startPool()
	if err != nil {
		return err
	}
	pool.Submit(bytecode.Job{Source: j.Dest, Display: rel, Done: func(r bytecode.Result) {
		if r.Err != nil {
			b.mu.Lock()
			b.compileErrs = append(b.compileErrs, fmt.Sprintf("%s: %v", j.Dest, r.Err))
			b.mu.Unlock()
			return
		}
		j.Install().AddFile(wheel.File{Path: r.PYC, SHA256: r.SHA256, Size: r.Size})
		b.compiled.Add(1)
		if key != nil {
			b.store(*key, r)
		}
	}})
	return nil
}

// startPool starts the compilers the first time a module needs them.
func (b *bytecodeWriter) startPool() (*bytecode.Pool, error) {
	b.poolOnce.Do(func() {
		b.pool, b.poolErr = bytecode.Start(b.ctx, b.tg.RealExecutable, bytecode.DefaultWorkers(), target.CleanEnv(os.Environ()))
	})
	return b.pool, b.poolErr
}

// store puts a compiled .pyc into the cache, read back from the release
// and checked against the hash the compiler gave. A cache that is full or
// read-only is given up on; the install goes on.
func (b *bytecodeWriter) store(k pyccache.Key, r bytecode.Result) {
	if b.noStore.Load() {
		return
	}
	pyc, err := os.ReadFile(r.PYC)
	if err != nil {
		b.storeFailure(err)
		return
	}
	if sum := sha256.Sum256(pyc); !bytes.Equal(sum[:], r.SHA256) {
		b.storeFailure(fmt.Errorf("%s changed after it was compiled", r.PYC))
		return
	}
	if err := b.cache.Put(k, pyc); err != nil {
		b.storeFailure(err)
	}
}

func (b *bytecodeWriter) storeFailure(err error) {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission) {
		b.noStore.Store(true)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.storeErr == nil {
		b.storeErr = err
	}
	b.storeFailed++
}

// wait waits for the compilers to finish what is queued.
func (b *bytecodeWriter) wait() error {
	if b.pool == nil {
		return nil
	}
	return b.pool.Wait()
}

// close reports what the cache could not take and closes it.
func (b *bytecodeWriter) close() {
	if b.cache == nil {
		return
	}
	if b.storeErr != nil {
		b.log("pipbake: warning: bytecode cache %s: %d compiled files not stored: %v", b.cache.Dir(), b.storeFailed, b.storeErr)
	}
	for _, w := range b.wheels {
		w.pack.Close()
	}
	if n := b.cache.Damaged(); n > 0 {
		b.log("pipbake: warning: bytecode cache %s: %d damaged entries ignored (compiled again)", b.cache.Dir(), n)
	}
	b.cache.Close()
}

// counts is what the install's Result reports (not the receipt, which
// must not depend on the cache's state).
func (b *bytecodeWriter) counts() *Bytecode {
	return &Bytecode{Compiled: int(b.compiled.Load()), Cached: int(b.cached.Load())}
}

// errors lists, sorted, the sources that did not compile.
func (b *bytecodeWriter) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.compileErrs...)
	sort.Strings(out)
	return out
}
