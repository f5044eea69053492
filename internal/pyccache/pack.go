package pyccache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"
)

// A pack holds many entries in one file, read in place: what a bake
// uploads with the wheels. Entries first, each as a loose entry is
// stored; then the index, sorted by ID; then the trailer:
//
//	entries ...
//	index:   count x (ID 32 bytes, offset uint64, size uint64), little-endian
//	trailer: index offset uint64, count uint64, packMagic (8 bytes)
const (
	packMagic   = "pbpycpk\x01"
	indexEntry  = 32 + 8 + 8
	trailerSize = 8 + 8 + 8
)

type packIndex struct {
	id           ID
	offset, size int64
}

// pack is an open pack file.
type pack struct {
	f     *os.File
	index []packIndex
}

// openPack reads a pack's index, checking that every entry lies inside
// the file before the index.
func openPack(name string) (*pack, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	p, err := readPackIndex(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	p.f = f
	return p, nil
}

func readPackIndex(f io.ReaderAt) (*pack, error) {
	size, err := sizeOf(f)
	if err != nil {
		return nil, err
	}
	if size < trailerSize {
		return nil, errors.New("too short for a pack")
	}
	var tr [trailerSize]byte
	if _, err := f.ReadAt(tr[:], size-trailerSize); err != nil {
		return nil, err
	}
	if string(tr[16:]) != packMagic {
		return nil, errors.New("not a pack (no trailer)")
	}
	at, count := binary.LittleEndian.Uint64(tr[:8]), binary.LittleEndian.Uint64(tr[8:16])
	indexEnd := uint64(size - trailerSize)
	if at > indexEnd || count > (indexEnd-at)/indexEntry || count*indexEntry != indexEnd-at {
		return nil, fmt.Errorf("index of %d entries at %d does not fit a file of %d bytes", count, at, size)
	}
	raw := make([]byte, count*indexEntry)
	if _, err := f.ReadAt(raw, int64(at)); err != nil {
		return nil, err
	}
	p := &pack{index: make([]packIndex, count)}
	for i := range p.index {
		e := raw[i*indexEntry:]
		x := &p.index[i]
		copy(x.id[:], e[:32])
		off, n := binary.LittleEndian.Uint64(e[32:40]), binary.LittleEndian.Uint64(e[40:48])
		if off > at || n > at-off || n > maxEntry {
			return nil, fmt.Errorf("entry %d (%d bytes at %d) lies outside the entries", i, n, off)
		}
		x.offset, x.size = int64(off), int64(n)
		if i > 0 && bytes.Compare(p.index[i-1].id[:], x.id[:]) >= 0 {
			return nil, fmt.Errorf("index not sorted at entry %d", i)
		}
	}
	return p, nil
}

func sizeOf(f io.ReaderAt) (int64, error) {
	switch v := f.(type) {
	case *os.File:
		st, err := v.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	case *bytes.Reader:
		return v.Size(), nil
	}
	return 0, errors.New("unknown size")
}

// get reads id's entry, still encoded; found is false when the pack has
// none.
func (p *pack) get(id ID) (data []byte, found bool, err error) {
	i := sort.Search(len(p.index), func(i int) bool { return bytes.Compare(p.index[i].id[:], id[:]) >= 0 })
	if i == len(p.index) || p.index[i].id != id {
		return nil, false, nil
	}
	x := p.index[i]
	data = make([]byte, x.size)
	if _, err := p.f.ReadAt(data, x.offset); err != nil {
		return nil, true, err
	}
	return data, true, nil
}

func (p *pack) close() error {
	if p.f == nil {
		return nil
	}
	return p.f.Close()
}

// PackStats says what WritePack wrote.
type PackStats struct {
	// Entries found in the cache and written; Missing were not cached.
	Entries, Missing int
	Bytes            int64
}

// WritePack writes to w a pack of the entries c holds of keys (each ID
// once); keys it lacks are counted as missing. The entries are read on
// every CPU, a chunk at a time, and written in the order of keys.
func (c *Cache) WritePack(w io.Writer, keys []Key) (PackStats, error) {
	var st PackStats
	bw := bufio.NewWriterSize(w, 1<<20)
	seen := make(map[ID]bool, len(keys))
	var index []packIndex
	var offset int64
	const chunk = 256
	type got struct {
		id  ID
		pyc []byte
		sum [32]byte
		ok  bool
	}
	slots := make([]got, chunk)
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		var g errgroup.Group
		g.SetLimit(runtime.NumCPU())
		for i, k := range part {
			g.Go(func() error {
				s := got{id: k.ID()}
				s.pyc, s.sum, s.ok = c.Get(k)
				slots[i] = s
				return nil
			})
		}
		_ = g.Wait() // Get has no error: a damaged entry is a miss
		for _, g := range slots[:len(part)] {
			if !g.ok {
				st.Missing++
				continue
			}
			if seen[g.id] {
				continue
			}
			seen[g.id] = true
			n, err := writeEntry(bw, g.id, g.pyc, g.sum)
			if err != nil {
				return st, err
			}
			index = append(index, packIndex{id: g.id, offset: offset, size: n})
			offset += n
			st.Entries++
		}
	}
	if err := writeIndex(bw, index, offset); err != nil {
		return st, err
	}
	st.Bytes = offset + int64(len(index))*indexEntry + trailerSize
	return st, bw.Flush()
}

// writeIndex ends a pack whose entries, offset bytes, were written: the
// index, sorted by ID, and the trailer.
func writeIndex(w io.Writer, index []packIndex, offset int64) error {
	sort.Slice(index, func(a, b int) bool { return bytes.Compare(index[a].id[:], index[b].id[:]) < 0 })
	var e [indexEntry]byte
	for _, x := range index {
		copy(e[:32], x.id[:])
		binary.LittleEndian.PutUint64(e[32:40], uint64(x.offset))
		binary.LittleEndian.PutUint64(e[40:48], uint64(x.size))
		if _, err := w.Write(e[:]); err != nil {
			return err
		}
	}
	var tr [trailerSize]byte
	binary.LittleEndian.PutUint64(tr[:8], uint64(offset))
	binary.LittleEndian.PutUint64(tr[8:16], uint64(len(index)))
	copy(tr[16:], packMagic)
	_, err := w.Write(tr[:])
	return err
}

func writeEntry(w io.Writer, id ID, pyc []byte, sum [32]byte) (int64, error) {
	var h [headerSize]byte
	copy(h[:8], entryMagic)
	copy(h[8:40], id[:])
	copy(h[40:], sum[:])
	if _, err := w.Write(h[:]); err != nil {
		return 0, err
	}
	if _, err := w.Write(pyc); err != nil {
		return 0, err
	}
	return int64(headerSize + len(pyc)), nil
}
