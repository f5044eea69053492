package pyccache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/lru"
)

// Env names the cache folder when no flag does; Off (as a flag's or
// Env's value) turns the cache off.
const (
	Env = "PIPBAKE_BYTECODE_CACHE"
	Off = "off"
)

// Dir resolves where the cache is: value (a flag's), else $PIPBAKE_BYTECODE_CACHE,
// else the user's cache folder (~/.cache/pipbake/bytecode). It returns ""
// for Off, or when there is no user cache folder (no $HOME).
func Dir(value string) string {
	if value == "" {
		value = os.Getenv(Env)
	}
	switch value {
	case Off:
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "pipbake", "bytecode")
	}
	return value
}

// looseDir holds the loose entries; packDir the packs.
const (
	looseDir = "v1"
	packDir  = "packs"
	// PackSuffix ends the name of every pack file.
	PackSuffix = ".pack"
	tmpPrefix  = lru.TempPrefix
)

// touchAfter is how old a loose entry's time must be for a read to bump
// it: pruning drops the least recently used entries first, to within
// this much, at one system call per entry an hour at most.
const touchAfter = time.Hour

// Cache is an open cache folder. Its methods are safe for concurrent use.
type Cache struct {
	dir   string
	packs []*pack
	// shards are the shard folders known to exist.
	shards sync.Map
	// damaged counts entries found damaged (and ignored).
	damaged atomic.Int64
}

// Open opens (creating when missing) the cache folder dir and the packs
// in it. A folder that cannot be created (read-only) is opened for
// reading: Put then fails.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("bytecode cache: no folder")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bytecode cache %s: %w", dir, err)
	}
	c := &Cache{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, looseDir), 0o755); err != nil {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("bytecode cache: %w", err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, packDir, "*"+PackSuffix))
	sort.Strings(names)
	for _, name := range names {
		p, err := openPack(name)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("bytecode cache: %w", err)
		}
		c.packs = append(c.packs, p)
	}
	return c, nil
}

// Dir is the cache's folder, absolute.
func (c *Cache) Dir() string { return c.dir }

// Close closes the packs.
func (c *Cache) Close() error {
	var errs []error
	for _, p := range c.packs {
		errs = append(errs, p.close())
	}
	c.packs = nil
	return errors.Join(errs...)
}

// Damaged is how many entries were found damaged (and ignored) so far.
func (c *Cache) Damaged() int64 { return c.damaged.Load() }

// path is the loose entry of id.
func (c *Cache) path(id ID) string {
	s := id.String()
	return filepath.Join(c.dir, looseDir, s[:2], s)
}

// Get returns the .pyc bytes cached for k and their sha256. A missing
// entry is a miss; so is a damaged one (counted by Damaged).
func (c *Cache) Get(k Key) (pyc []byte, sum [32]byte, ok bool) {
	id := k.ID()
	for _, p := range c.packs {
		data, found, err := p.get(id)
		if err != nil {
			c.damaged.Add(1)
			continue
		}
		if found {
			if pyc, sum, err := decodeEntry(id, data, k.Interp); err == nil {
				return pyc, sum, true
			}
			c.damaged.Add(1)
		}
	}
	data, mtime, err := readLoose(c.path(id))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.damaged.Add(1)
		}
		return nil, sum, false
	}
	pyc, sum, err = decodeEntry(id, data, k.Interp)
	if err != nil {
		c.damaged.Add(1)
		return nil, sum, false
	}
	lru.Touch(c.path(id), mtime, touchAfter)
	return pyc, sum, true
}

// readLoose reads a loose entry and its modification time.
func readLoose(p string) ([]byte, time.Time, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	if !st.Mode().IsRegular() || st.Size() < headerSize || st.Size() > maxEntry {
		return nil, time.Time{}, fmt.Errorf("%w: %s is not a regular file of a plausible size", errDamaged, p)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, time.Time{}, err
	}
	return data, st.ModTime(), nil
}

// Put stores pyc as the entry of k: written whole to a temporary file,
// then renamed into place, so readers never see part of it. A .pyc that
// is not an unchecked-hash .pyc of k's interpreter is refused.
func (c *Cache) Put(k Key, pyc []byte) error {
	if err := checkPyc(pyc, k.Interp); err != nil {
		return fmt.Errorf("bytecode cache: refuse to store %s: %w", k.Path, err)
	}
	id := k.ID()
	dst := c.path(id)
	shard := filepath.Dir(dst)
	if _, ok := c.shards.Load(shard); !ok {
		if err := os.MkdirAll(shard, 0o755); err != nil {
			return fmt.Errorf("bytecode cache: %w", err)
		}
		c.shards.Store(shard, struct{}{})
	}
	if err := writeRenamed(dst, encodeEntry(id, pyc)); err != nil {
		return fmt.Errorf("bytecode cache: %w", err)
	}
	return nil
}

// writeRenamed writes data to a new temporary file beside dst and renames
// it to dst. No fsync: an entry a crash leaves damaged fails its sha256
// and is ignored.
func writeRenamed(dst string, data []byte) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(dst), tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
