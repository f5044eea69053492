package install

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// The release cache (Options.ReleaseCache) keeps finished releases,
// bytecode included, under DIR/<key>/, where the key hashes everything a
// release's bytes depend on: the set's name, root and release id (paths
// are written into scripts and the environment), the lock's sha256, the
// interpreter (path, version, implementation, platform), the installer,
// bytecode on or off, pipbake's version and SOURCE_DATE_EPOCH. A set
// whose key is cached is restored by copying instead of installed, then
// verified like any new release. A cache that cannot be written (a
// read-only mount) is only read; the OCI builder fills it from outside.

// ReleaseCacheEnv names the cache folder when --cache-dir is not given.
const ReleaseCacheEnv = "PIPBAKE_RELEASE_CACHE"

// CacheKey is what a cached release's bytes depend on.
type CacheKey struct {
	Set, Root, Release, LockSHA256                  string
	Python, PythonVersion, Implementation, Platform string
	Installer, Pipbake                              string
	Compiled                                        bool
	// Epoch is SOURCE_DATE_EPOCH as Unix seconds, or "" when unset.
	Epoch string
}

// String is the key's folder name.
func (k CacheKey) String() string {
	s := strings.Join([]string{"pipbake-release-cache 1", k.Set, filepath.Clean(k.Root), k.Release, k.LockSHA256,
		k.Python, k.PythonVersion, k.Implementation, k.Platform, k.Installer, k.Pipbake, strconv.FormatBool(k.Compiled), k.Epoch}, "\n")
	sum := sha256.Sum256([]byte(s))
	return k.Set + "-" + hex.EncodeToString(sum[:12])
}

// KeyOfReceipt is the key of an installed release (root is the set's
// release root), as made with SOURCE_DATE_EPOCH set.
func KeyOfReceipt(rc *receipt.Receipt, root string) CacheKey {
	return CacheKey{Set: rc.Set, Root: root, Release: rc.Release, LockSHA256: rc.Lock.SHA256,
		Python: rc.Interpreter.Path, PythonVersion: rc.Interpreter.Version, Implementation: rc.Interpreter.Implementation,
		Platform: rc.Interpreter.Platform, Installer: rc.Installer, Pipbake: rc.Pipbake, Compiled: rc.Compiled,
		Epoch: strconv.FormatInt(rc.Created.Unix(), 10)}
}

// cacheKey is the key of the release p installs.
func (p *prepared) cacheKey(opts Options) CacheKey {
	set, tg := p.set, p.tg
	k := CacheKey{Set: set.Name, Root: p.root.Dir, Release: p.id, LockSHA256: p.lk.SHA256,
		Python: tg.Executable, PythonVersion: tg.VersionFull, Implementation: tg.Implementation, Platform: tg.Platform,
		Installer: set.Installer, Pipbake: opts.Version, Compiled: set.Compile}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			k.Epoch = strconv.FormatInt(n, 10)
		}
	}
	return k
}

// restoreCached fills the new release dir from the cache when it holds the
// key (as a folder, or as a layer entry); it returns nil when it does not.
func (p *prepared) restoreCached(dir string, opts Options) (*Result, error) {
	set, id, lk := p.set, p.id, p.lk
	key := p.cacheKey(opts).String()
	src := filepath.Join(opts.ReleaseCache, key)
	if _, err := os.Stat(filepath.Join(src, receipt.FileName)); err == nil {
		if err := rootfs.CopyTree(dir, src); err != nil {
			return nil, fmt.Errorf("set %q: restore release %s from the cache %s: %w", set.Name, id, src, err)
		}
	} else if le, err := readLayerEntry(opts.ReleaseCache, key); err == nil {
		if err := le.extract(dir); err != nil {
			return nil, fmt.Errorf("set %q: restore release %s from the cache %s: %w", set.Name, id, src+LayerEntrySuffix, err)
		}
	} else {
		return nil, nil
	}
	rc, err := receipt.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("set %q: restored release: %w", set.Name, err)
	}
	if rc.Set != set.Name || rc.Release != id || rc.Lock.SHA256 != lk.SHA256 {
		return nil, fmt.Errorf("set %q: the cached release %s is for set %q release %q", set.Name, src, rc.Set, rc.Release)
	}
	if err := syncTree(dir); err != nil {
		return nil, err
	}
	rep, err := receipt.Verify(dir, receipt.Options{SizesOnly: true})
	if err != nil {
		return nil, fmt.Errorf("set %q: verify the restored release: %w", set.Name, err)
	}
	if !rep.Clean() {
		return nil, fmt.Errorf("set %q: the release restored from %s does not verify: %s", set.Name, src, describe(rep.Problems))
	}
	opts.logf("pipbake: %s: restored release %s from the release cache (%d files)", set.Name, id, rc.Files)
	return &Result{Set: set.Name, Release: id, Root: p.root.Dir, Path: dir, Receipt: rc, Duration: time.Since(p.start)}, nil
}

// StoreRelease copies a finished release into the cache dir under key,
// whole or not at all; an existing entry is kept.
func StoreRelease(cacheDir string, key CacheKey, releaseDir string) error {
	dst := filepath.Join(cacheDir, key.String())
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-")
	if err != nil {
		return err
	}
	if err := rootfs.CopyTree(tmp, releaseDir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(dst); serr == nil {
			return nil
		}
		return err
	}
	return nil
}

// storeFresh stores a release just installed, when the cache is writable.
func (p *prepared) storeFresh(dir string, opts Options) {
	err := StoreRelease(opts.ReleaseCache, p.cacheKey(opts), dir)
	if err != nil && !errors.Is(err, os.ErrPermission) && !isReadOnly(err) {
		opts.logf("pipbake: %s: warning: could not store release %s in the release cache: %v", p.set.Name, p.id, err)
	}
}
