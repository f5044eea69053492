package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// The cache is content-addressed:
//
//	<cache>/sha256/ab/abcdef…         a wheel, read-only, named by its sha256
//	<cache>/sha256/ab/abcdef….json    {"file": "<wheel file name>", "size": N, "source": "<redacted>"}
//	<cache>/choices/<key>.json        which file a pin resolved to for a target and sources
//	<cache>/tmp/                      downloads in progress
//
// A file enters sha256/ only by rename after its bytes hashed to a sha256
// the lock allows; a partial or wrong download is deleted from tmp/.
type cache struct {
	dir string

	mu       sync.Mutex
	verified map[string]bool // sha256s hashed and found whole during this fetch
}

// DefaultCacheDir is the cache used when Options.Cache is empty:
// $XDG_CACHE_HOME/pipbake/fetch or ~/.cache/pipbake/fetch.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder: %w (give one)", err)
	}
	return filepath.Join(dir, "pipbake", "fetch"), nil
}

func openCache(dir string) (*cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"sha256", "choices", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	return &cache{dir: abs, verified: map[string]bool{}}, nil
}

func (c *cache) path(sum string) string {
	return filepath.Join(c.dir, "sha256", sum[:2], sum)
}

// entry is the sidecar of a cached file.
type entry struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	Source string `json:"source,omitempty"`
}

// get returns the path of the cached file with this sha256 if it is there
// and whole. A file whose bytes no longer hash to its name is removed.
func (c *cache) get(sum string) (string, bool, error) {
	if !isSHA256(sum) {
		return "", false, nil
	}
	p := c.path(sum)
	c.mu.Lock()
	done := c.verified[sum]
	c.mu.Unlock()
	if done {
		return p, true, nil
	}
	got, _, err := wheelhouse.HashFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cache: %w", err)
	}
	if got != sum {
		// Damaged on disk (or edited through a hard link): never use it.
		os.Remove(p)
		return "", false, nil
	}
	c.mu.Lock()
	c.verified[sum] = true
	c.mu.Unlock()
	return p, true, nil
}

// entryOf reads the sidecar of a cached file.
func (c *cache) entryOf(sum string) (entry, bool) {
	var e entry
	if !isSHA256(sum) {
		return e, false
	}
	data, err := os.ReadFile(c.path(sum) + ".json")
	if err != nil || json.Unmarshal(data, &e) != nil || e.File == "" {
		return e, false
	}
	return e, true
}

// put streams r into the cache, hashing as it goes, and keeps the file
// only if its sha256 is one of allowed (and, with size ≥ 0, it has that
// many bytes). It returns the sha256 and the size; a *mismatchError when
// the bytes are not allowed.
func (c *cache) put(r io.Reader, file string, size int64, allowed []string, source string) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "dl-*")
	if err != nil {
		return "", 0, fmt.Errorf("cache: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return "", n, err // a broken transfer: retried by the caller
	}
	if size >= 0 && n != size {
		return "", n, fmt.Errorf("%w: got %d of %d bytes", io.ErrUnexpectedEOF, n, size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if !containsFold(allowed, sum) {
		return sum, n, &mismatchError{file: file, got: sum, want: allowed}
	}
	if err := tmp.Sync(); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	dst := c.path(sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := writeJSONAtomic(dst+".json", entry{File: file, Size: n, Source: source}, false); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	keep = true
	c.mu.Lock()
	c.verified[sum] = true
	c.mu.Unlock()
	return sum, n, nil
}

// choice is a remembered resolution: the file a pin resolved to.
type choice struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Source string `json:"source"` // redacted
}

func (c *cache) choicePath(key string) string {
	return filepath.Join(c.dir, "choices", key+".json")
}

func (c *cache) getChoice(key string) (choice, bool) {
	var ch choice
	data, err := os.ReadFile(c.choicePath(key))
	if err != nil || json.Unmarshal(data, &ch) != nil || !isSHA256(ch.SHA256) || ch.File == "" {
		return ch, false
	}
	return ch, true
}

func (c *cache) putChoice(key string, ch choice) error {
	return writeJSONAtomic(c.choicePath(key), ch, false)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// writeJSONAtomic writes v as indented JSON to a temp file beside p and
// renames it into place; with durable, it syncs the file and its folder.
func writeJSONAtomic(p string, v any, durable bool) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	if durable {
		return syncDir(filepath.Dir(p))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
