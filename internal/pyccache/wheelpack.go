package pyccache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"

	"github.com/pipbake/packer-plugin-pipbake/internal/lru"
	"github.com/pipbake/packer-plugin-pipbake/internal/mmap"
)

// wheelDir holds the wheel packs: DIR/wheels/<2 hex>/<64 hex>.pack.
const (
	wheelDir       = "wheels"
	wheelSealMagic = "pbwhlpk\x01"
	wheelSealSize  = 4 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A wheel pack holds, in the pack format, the entries of one wheel's
// modules for one interpreter, so an install of that wheel reads one
// mapped file instead of a loose entry per module: with ten thousand
// modules, the opens, reads and path lookups of loose entries cost as
// much as writing the .pyc files. It is derived data: the loose entries
// stay (a new version of a distribution shares most of its sources with
// the old one, found by their keys), Prune drops wheel packs by age like
// loose entries, and an entry is looked up in it by its ID, so a wheel
// pack picked by mistake only misses.
//
// A wheel pack is a pack followed by a seal: the CRC-32C of the pack's
// bytes (little-endian), four zero bytes and wheelSealMagic. Opening one
// checks the seal over the whole file at memory speed, so its entries'
// bytes need not be hashed again: their stored sha256 is taken (and
// RECORD still lets verify check every .pyc installed).
//
// WheelPack is a wheel pack opened for reading, or a view of the cache
// alone when the wheel has none. Its methods are safe for concurrent use;
// the bytes Get returns stay valid until Close.
type WheelPack struct {
	c       *Cache
	data    []byte // the mapped (or read) file; nil without a pack
	index   []packIndex
	release func() error
}

// WheelPackID names the wheel pack of a wheel (by its sha256) for an
// interpreter.
func WheelPackID(wheelSHA256 []byte, in Interp) ID {
	h := sha256.New()
	fmt.Fprintf(h, "pipbake-pyc-wheel 1\n%x\n%s\n%s\n%s\n%d\n%s", wheelSHA256, in.Magic, in.CacheTag,
		in.Implementation, Optimization, Invalidation)
	var id ID
	h.Sum(id[:0])
	return id
}

func (c *Cache) wheelPackPath(id ID) string {
	s := id.String()
	return filepath.Join(c.dir, wheelDir, s[:2], s+PackSuffix)
}

// OpenWheel opens the wheel pack of the wheel whose sha256 is wheelSHA256
// for in. Without one (or with a damaged one, counted by Damaged) the
// WheelPack reads the cache's other entries only. Close it when done.
func (c *Cache) OpenWheel(wheelSHA256 []byte, in Interp) *WheelPack {
	w := &WheelPack{c: c}
	p := c.wheelPackPath(WheelPackID(wheelSHA256, in))
	f, err := os.Open(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.damaged.Add(1)
		}
		return w
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < trailerSize+wheelSealSize {
		c.damaged.Add(1)
		return w
	}
	data, unmap, ok := mmap.File(f, st.Size())
	if !ok {
		data = make([]byte, st.Size())
		if _, err := f.ReadAt(data, 0); err != nil {
			c.damaged.Add(1)
			return w
		}
		unmap = func() error { return nil }
	}
	var pk *pack
	if err := guard(func() error {
		n := len(data) - wheelSealSize
		seal := data[n:]
		if string(seal[8:]) != wheelSealMagic || crc32.Checksum(data[:n], castagnoli) != binary.LittleEndian.Uint32(seal[:4]) {
			return fmt.Errorf("%w: wheel pack %s fails its seal", errDamaged, p)
		}
		var err error
		pk, err = readPackIndex(bytes.NewReader(data[:n]))
		return err
	}); err != nil {
		unmap()
		c.damaged.Add(1)
		return w
	}
	w.data, w.index, w.release = data, pk.index, unmap
	lru.Touch(p, st.ModTime(), touchAfter)
	return w
}

// Packed reports whether the wheel has a wheel pack.
func (w *WheelPack) Packed() bool { return w.data != nil }

// Get returns the .pyc bytes for k and their sha256: from the wheel pack
// when it holds a whole entry for k, else as Cache.Get finds them.
func (w *WheelPack) Get(k Key) (pyc []byte, sum [32]byte, ok bool) {
	if w.data != nil {
		id := k.ID()
		i := sort.Search(len(w.index), func(i int) bool { return bytes.Compare(w.index[i].id[:], id[:]) >= 0 })
		if i < len(w.index) && w.index[i].id == id {
			x := w.index[i]
			var err error
			if gerr := guard(func() error {
				pyc, sum, err = decodeSealed(id, w.data[x.offset:x.offset+x.size], k.Interp)
				return nil
			}); gerr != nil {
				err = gerr
			}
			if err == nil {
				return pyc, sum, true
			}
			w.c.damaged.Add(1)
		}
	}
	return w.c.Get(k)
}

// Close releases the wheel pack; the bytes Get returned are gone.
func (w *WheelPack) Close() error {
	if w.release == nil {
		return nil
	}
	err := w.release()
	w.data, w.index, w.release = nil, nil, nil
	return err
}

// PutWheel writes the wheel pack of a wheel (by its sha256) for in from
// the entries the cache holds of keys (its modules' keys), replacing any
// there: whole to a temporary file, then renamed into place. Keys the
// cache lacks (a module that does not compile) are left out and counted.
func (c *Cache) PutWheel(wheelSHA256 []byte, in Interp, keys []Key) (PackStats, error) {
	dst := c.wheelPackPath(WheelPackID(wheelSHA256, in))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return PackStats{}, fmt.Errorf("bytecode cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), tmpPrefix+"*")
	if err != nil {
		return PackStats{}, fmt.Errorf("bytecode cache: %w", err)
	}
	crc := crc32.New(castagnoli)
	st, err := c.WritePack(io.MultiWriter(tmp, crc), keys)
	if err == nil {
		var seal [wheelSealSize]byte
		binary.LittleEndian.PutUint32(seal[:4], crc.Sum32())
		copy(seal[8:], wheelSealMagic)
		_, err = tmp.Write(seal[:])
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return st, fmt.Errorf("bytecode cache: write wheel pack: %w", err)
	}
	return st, nil
}

// guard runs f, turning a memory fault (a mapped file truncated under
// the reader) into an error.
func guard(f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if re, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("%w: fault reading a mapped pack at %#x", errDamaged, re.Addr())
				return
			}
			panic(r)
		}
	}()
	return f()
}
