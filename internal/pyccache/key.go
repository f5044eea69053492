// Package pyccache is a content-addressed cache of compiled Python
// bytecode, so a source file is compiled once per interpreter and every
// later install copies its .pyc instead of running the compiler.
//
// An entry is the .pyc bytes for a Key: the source file's sha256 (from
// its wheel's RECORD, checked as the file is written), what the
// interpreter's bytecode depends on (magic number, cache tag,
// implementation), the optimization level, the invalidation mode and the
// path the code objects record (co_filename). Installs compile with a
// co_filename relative to the environment, so an entry's bytes are the
// same in every release and root; CPython replaces co_filename with the
// real path when it loads a .pyc, so tracebacks still name the installed
// file.
//
// A cache is a folder: loose entries DIR/v1/<2 hex>/<64 hex>, each written
// to a temporary file and renamed into place, so a reader sees a whole
// entry or none and parallel installs sharing a folder stay consistent
// (two writers of one key write the same bytes); and read-only packs
// DIR/packs/*.pack, many entries in one file, which is how a bake carries
// the entries a machine needs; and wheel packs DIR/wheels/<2 hex>/<64
// hex>.pack, the entries of one wheel's modules for one interpreter,
// written after an install and read (mapped, one file per wheel instead
// of a file per module) by the next (wheelpack.go). Every entry stores its key and the sha256
// of its bytes, and a .pyc must start with the interpreter's magic number
// and the unchecked-hash flag: a damaged, truncated or misfiled entry, or
// one of another Python, is a miss, never installed.
package pyccache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// Optimization is the optimization level of the cached bytecode (the
// interpreter's default: no -O), and Invalidation its PEP 552
// invalidation mode; both are part of every key.
const (
	Optimization = 0
	Invalidation = "unchecked-hash"
)

// Interp is what a .pyc's bytes depend on of the interpreter.
type Interp struct {
	// Magic is importlib.util.MAGIC_NUMBER, in hex (8 digits).
	Magic string
	// CacheTag names the .pyc files ("cpython-311").
	CacheTag string
	// Implementation is sys.implementation.name ("cpython").
	Implementation string

	magic [4]byte
}

// InterpOf is the Interp of a probed interpreter: its magic number and
// cache tag come from the probe, never from its version.
func InterpOf(tg *target.Target) (Interp, error) {
	return NewInterp(tg.Magic, tg.CacheTag, tg.Implementation)
}

// NewInterp checks and returns an Interp.
func NewInterp(magic, cacheTag, implementation string) (Interp, error) {
	in := Interp{Magic: strings.ToLower(magic), CacheTag: cacheTag, Implementation: implementation}
	b, err := hex.DecodeString(in.Magic)
	if err != nil || len(b) != 4 || b[2] != '\r' || b[3] != '\n' {
		return Interp{}, fmt.Errorf("bytecode magic number %q is not 4 bytes ending in \\r\\n", magic)
	}
	copy(in.magic[:], b)
	if cacheTag == "" {
		return Interp{}, errors.New("the interpreter has no bytecode cache tag (sys.implementation.cache_tag is None)")
	}
	if strings.ContainsAny(cacheTag+implementation, "\n/\\\x00") {
		return Interp{}, fmt.Errorf("cache tag %q or implementation %q holds a newline, slash or NUL", cacheTag, implementation)
	}
	return in, nil
}

// Key is what one entry's bytes depend on.
type Key struct {
	// Source is the sha256 of the source file.
	Source [32]byte
	Interp Interp
	// Path is the co_filename compiled in (the file's path relative to
	// the environment, with slashes).
	Path string
}

// ID names an entry: the sha256 of its key.
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an ID from its hex form.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bytecode cache entry name %q is not 64 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// ID is the key's entry name. Every field is written on a line of its
// own after a version line; Path is last, so no field can shift into
// another.
func (k Key) ID() ID {
	h := sha256.New()
	fmt.Fprintf(h, "pipbake-pyc-key 1\n%x\n%s\n%s\n%s\n%d\n%s\n%s", k.Source, k.Interp.Magic, k.Interp.CacheTag,
		k.Interp.Implementation, Optimization, Invalidation, k.Path)
	var id ID
	h.Sum(id[:0])
	return id
}
