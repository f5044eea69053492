// Package wheelpack writes wheel archives (the Python binary distribution
// format) deterministically: entries sorted with the .dist-info directory
// last and RECORD last of all, fixed timestamps, unix modes kept in the zip
// external attributes, deflate compression, and a RECORD generated from the
// bytes actually written.
package wheelpack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// DefaultGenerator is the Generator line of WHEEL files this package writes
// when Meta.Generator is empty.
const DefaultGenerator = "pipbake-wheelpack"

// Meta describes the wheel being built.
type Meta struct {
	// Name and Version of the distribution. Name is escaped with
	// pyname.WheelEscape for the filename and the .dist-info directory.
	Name, Version string
	// Build is the optional build tag (must start with a digit).
	Build string
	// Tags are the wheel's compatibility tags ("py3-none-any"), in order.
	// Empty means py3-none-any.
	Tags []string
	// RootIsPurelib is written to a generated WHEEL file.
	RootIsPurelib bool
	// Generator is written to a generated WHEEL file; empty means
	// DefaultGenerator.
	Generator string
	// ModTime is the timestamp of every entry. Zero means ModTime().
	ModTime time.Time
	// Level is the deflate level; 0 means flate.DefaultCompression.
	Level int
}

// Result describes a written wheel.
type Result struct {
	// Path is the wheel's location on disk (empty for Builder.Write).
	Path string
	// File is the wheel's filename.
	File string
	// SHA256 is the hex sha256 digest of the whole archive.
	SHA256 string
	// Size is the archive's length in bytes.
	Size int64
}

type entry struct {
	name string
	mode fs.FileMode
	data []byte                        // used when open is nil
	open func() (io.ReadCloser, error) // streams the content when set
}

// Builder collects the entries of one wheel and writes it.
type Builder struct {
	meta    Meta
	entries map[string]*entry
}

// New returns a Builder for the distribution described by m.
func New(m Meta) (*Builder, error) {
	if !pyname.Valid(m.Name) {
		return nil, fmt.Errorf("wheel for %q: invalid distribution name", m.Name)
	}
	if m.Version == "" || strings.ContainsAny(m.Version, " /\\,") {
		return nil, fmt.Errorf("wheel for %q: invalid version %q", m.Name, m.Version)
	}
	if m.Build != "" && (m.Build[0] < '0' || m.Build[0] > '9' || strings.ContainsAny(m.Build, "- /")) {
		return nil, fmt.Errorf("wheel for %q: build tag %q must start with a digit and contain no '-'", m.Name, m.Build)
	}
	if len(m.Tags) == 0 {
		m.Tags = []string{"py3-none-any"}
	}
	for _, t := range m.Tags {
		if len(strings.Split(t, "-")) != 3 {
			return nil, fmt.Errorf("wheel for %q: malformed tag %q: want python-abi-platform", m.Name, t)
		}
	}
	if m.Level == 0 {
		m.Level = flate.DefaultCompression
	}
	return &Builder{meta: m, entries: map[string]*entry{}}, nil
}

// DistInfo returns the name of the wheel's .dist-info directory,
// "{escaped name}-{version}.dist-info".
func (b *Builder) DistInfo() string { return b.stem() + ".dist-info" }

// DataDir returns the name of the wheel's .data directory,
// "{escaped name}-{version}.data".
func (b *Builder) DataDir() string { return b.stem() + ".data" }

func (b *Builder) stem() string {
	return pyname.WheelEscape(b.meta.Name) + "-" + escapeVersion(b.meta.Version)
}

// Filename returns the wheel's filename.
func (b *Builder) Filename() string {
	f, _ := Filename(b.meta.Name, b.meta.Version, b.meta.Build, b.meta.Tags)
	return f
}

// Add adds a file with the given archive path, unix permission bits and
// content. The RECORD of the .dist-info directory is generated and cannot
// be added.
func (b *Builder) Add(name string, mode fs.FileMode, data []byte) error {
	return b.add(&entry{name: name, mode: mode, data: data})
}

// AddReader adds a file whose content is streamed from open when the wheel
// is written.
func (b *Builder) AddReader(name string, mode fs.FileMode, open func() (io.ReadCloser, error)) error {
	return b.add(&entry{name: name, mode: mode, open: open})
}

// AddPath adds the file at diskPath under the archive path name, keeping
// its permission bits. The content is read when the wheel is written.
func (b *Builder) AddPath(name, diskPath string) error {
	fi, err := os.Stat(diskPath)
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("add %s: %s is not a regular file", name, diskPath)
	}
	return b.add(&entry{name: name, mode: fi.Mode(), open: func() (io.ReadCloser, error) { return os.Open(diskPath) }})
}

// Has reports whether an entry with the archive path name was added.
func (b *Builder) Has(name string) bool { _, ok := b.entries[name]; return ok }

func (b *Builder) add(e *entry) error {
	if err := checkName(e.name); err != nil {
		return fmt.Errorf("add %q: %w", e.name, err)
	}
	top, _, _ := strings.Cut(e.name, "/")
	switch {
	case strings.HasSuffix(top, ".dist-info") && top != b.DistInfo():
		return fmt.Errorf("add %q: only %s may hold metadata", e.name, b.DistInfo())
	case strings.HasSuffix(top, ".data") && top != b.DataDir() && strings.Contains(e.name, "/"):
		return fmt.Errorf("add %q: only %s may hold data", e.name, b.DataDir())
	}
	if top == b.DataDir() {
		category, _, _ := strings.Cut(strings.TrimPrefix(e.name, top+"/"), "/")
		if !dataCategories[category] || !strings.Contains(strings.TrimPrefix(e.name, top+"/"), "/") {
			return fmt.Errorf("add %q: files in %s go under purelib/, platlib/, headers/, scripts/ or data/", e.name, top)
		}
	}
	if e.name == b.DistInfo()+"/RECORD" {
		return fmt.Errorf("add %q: RECORD is generated", e.name)
	}
	if _, dup := b.entries[e.name]; dup {
		return fmt.Errorf("add %q: duplicate entry", e.name)
	}
	e.mode = e.mode.Perm()
	b.entries[e.name] = e
	return nil
}

// dataCategories are the install-scheme keys a .data directory may use.
var dataCategories = map[string]bool{"purelib": true, "platlib": true, "headers": true, "scripts": true, "data": true}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty path")
	case strings.HasPrefix(name, "/"), strings.Contains(name, "\\"):
		return errors.New("path must be relative and use '/'")
	case path.Clean(name) != name, name == ".", strings.HasPrefix(name, "../"), name == "..":
		return errors.New("path must be clean and stay inside the archive")
	case strings.HasSuffix(name, "/"):
		return errors.New("directories are implicit")
	}
	return nil
}

// WriteFile writes the wheel into dir under its filename, atomically (a
// temporary file renamed into place), and returns where it went and its
// digest.
func (b *Builder) WriteFile(dir string) (Result, error) {
	file := b.Filename()
	tmp, err := os.CreateTemp(dir, ".tmp-"+file+"-*")
	if err != nil {
		return Result{}, fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	res, err := b.Write(tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", file, cerr)
	}
	if err != nil {
		return Result{}, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return Result{}, fmt.Errorf("write %s: %w", file, err)
	}
	res.Path = filepath.Join(dir, file)
	if err := os.Rename(tmp.Name(), res.Path); err != nil {
		return Result{}, fmt.Errorf("write %s: %w", file, err)
	}
	return res, nil
}

// Write writes the wheel archive to w. Result.Path is left empty.
func (b *Builder) Write(w io.Writer) (Result, error) {
	file := b.Filename()
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	if err := b.write(cw); err != nil {
		return Result{}, fmt.Errorf("write %s: %w", file, err)
	}
	return Result{File: file, SHA256: hex.EncodeToString(sum.Sum(nil)), Size: cw.n}, nil
}

func (b *Builder) write(w io.Writer) error {
	mtime := b.meta.ModTime
	if mtime.IsZero() {
		var err error
		if mtime, err = ModTime(); err != nil {
			return err
		}
	}
	mtime = clampTime(mtime)

	entries := make([]*entry, 0, len(b.entries)+2)
	for _, e := range b.entries {
		entries = append(entries, e)
	}
	wheelName := b.DistInfo() + "/WHEEL"
	if _, ok := b.entries[wheelName]; !ok {
		entries = append(entries, &entry{name: wheelName, mode: 0o644, data: b.wheelFile()})
	}
	sort.Slice(entries, func(i, j int) bool { return lessEntry(b.DistInfo(), entries[i].name, entries[j].name) })

	zw := zip.NewWriter(w)
	level := b.meta.Level
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, level)
	})
	var record bytes.Buffer
	for _, e := range entries {
		digest, size, err := writeEntry(zw, e, mtime)
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		writeRecordRow(&record, e.name, digest, size)
	}
	recordName := b.DistInfo() + "/RECORD"
	writeRecordRow(&record, recordName, "", -1)
	if _, _, err := writeEntry(zw, &entry{name: recordName, mode: 0o644, data: record.Bytes()}, mtime); err != nil {
		return fmt.Errorf("RECORD: %w", err)
	}
	return zw.Close()
}

// lessEntry orders archive paths: everything outside the .dist-info
// directory first, then the .dist-info files; all sorted by path.
func lessEntry(distInfo, a, b string) bool {
	da, db := strings.HasPrefix(a, distInfo+"/"), strings.HasPrefix(b, distInfo+"/")
	if da != db {
		return db
	}
	return a < b
}

func writeEntry(zw *zip.Writer, e *entry, mtime time.Time) (digest string, size int64, err error) {
	fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
	fh.SetMode(e.mode)
	zf, err := zw.CreateHeader(fh)
	if err != nil {
		return "", 0, err
	}
	var src io.Reader = bytes.NewReader(e.data)
	if e.open != nil {
		rc, err := e.open()
		if err != nil {
			return "", 0, err
		}
		defer rc.Close()
		src = rc
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(zf, h), src)
	if err != nil {
		return "", 0, err
	}
	return "sha256=" + b64(h.Sum(nil)), n, nil
}

func (b *Builder) wheelFile() []byte {
	gen := b.meta.Generator
	if gen == "" {
		gen = DefaultGenerator
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Wheel-Version: 1.0\nGenerator: %s\nRoot-Is-Purelib: %t\n", gen, b.meta.RootIsPurelib)
	for _, t := range b.meta.Tags {
		fmt.Fprintf(&buf, "Tag: %s\n", t)
	}
	if b.meta.Build != "" {
		fmt.Fprintf(&buf, "Build: %s\n", b.meta.Build)
	}
	return buf.Bytes()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
