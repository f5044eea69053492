package pyccache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Entries travel between caches as packs. A bake sends the machine the
// entries its wheels need (WritePack); the agent's newly compiled entries
// come back the same way: ExportLoose packs them up on the machine and
// ImportPack takes them into the Packer host's cache.

// ExportLoose moves the loose entries of the cache folder dir into a new
// pack file out, readable by all (the provisioner reads it back as the
// communicator's user, which need not be the agent's), then removes the
// loose folder, so that user can also remove dir. Entries that are not
// whole (damaged, or a writer's temporary file) are left out; packs in
// dir stay.
func ExportLoose(dir, out string) (PackStats, error) {
	var st PackStats
	files, _, err := scan(dir)
	if err != nil {
		return st, fmt.Errorf("bytecode cache %s: %w", dir, err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), tmpPrefix+"pack-*")
	if err != nil {
		return st, fmt.Errorf("export bytecode cache %s: %w", dir, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var index []packIndex
	var offset int64
	for _, lf := range files {
		if lf.Temp || lf.Kind != looseDir {
			continue
		}
		id, err := ParseID(filepath.Base(lf.Path))
		if err != nil {
			continue
		}
		data, _, err := readLoose(lf.Path)
		if err != nil {
			continue
		}
		pyc, sum, err := decodeWhole(id, data)
		if err != nil {
			continue
		}
		n, err := writeEntry(bw, id, pyc, sum)
		if err != nil {
			return st, fmt.Errorf("export bytecode cache %s to %s: %w", dir, out, err)
		}
		index = append(index, packIndex{id: id, offset: offset, size: n})
		offset += n
		st.Entries++
	}
	if err := writeIndex(bw, index, offset); err != nil {
		return st, fmt.Errorf("export bytecode cache %s to %s: %w", dir, out, err)
	}
	st.Bytes = offset + int64(len(index))*indexEntry + trailerSize
	err = bw.Flush()
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		return st, fmt.Errorf("export bytecode cache %s to %s: %w", dir, out, err)
	}
	done = true
	if err := os.RemoveAll(filepath.Join(dir, looseDir)); err != nil {
		return st, fmt.Errorf("bytecode cache %s: remove the exported entries: %w", dir, err)
	}
	return st, nil
}

// ImportStats says what ImportPack did with a pack's entries.
type ImportStats struct {
	// Stored were new to the cache; Present it held already; Refused
	// were not asked for, or not whole, or not of their interpreter.
	Stored, Present, Refused int
}

// ImportPack stores in c the entries of the pack r that want names, each
// checked as Get checks it against the Interp want gives its ID: its
// header names the ID, its bytes match their sha256, the .pyc has that
// interpreter's magic number and the unchecked-hash flags. Every other
// entry is refused. An entry c already holds is left alone. A pack
// whose index does not fit it is an error; so is a write that fails (a
// full disk), after which nothing more is stored.
func (c *Cache) ImportPack(r io.ReaderAt, want map[ID]Interp) (ImportStats, error) {
	var st ImportStats
	p, err := readPackIndex(r)
	if err != nil {
		return st, fmt.Errorf("bytecode pack: %w", err)
	}
	for _, x := range p.index {
		in, ok := want[x.id]
		if !ok {
			st.Refused++
			continue
		}
		data := make([]byte, x.size)
		if _, err := r.ReadAt(data, x.offset); err != nil {
			return st, fmt.Errorf("bytecode pack: %w", err)
		}
		if _, _, err := decodeEntry(x.id, data, in); err != nil {
			st.Refused++
			continue
		}
		dst := c.path(x.id)
		if _, err := os.Lstat(dst); err == nil {
			st.Present++
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("bytecode cache: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return st, fmt.Errorf("bytecode cache: %w", err)
		}
		if err := writeRenamed(dst, data); err != nil {
			return st, fmt.Errorf("bytecode cache: %w", err)
		}
		st.Stored++
	}
	return st, nil
}
