package wheel

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/mmap"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Wheel is an opened, structurally checked wheel archive.
type Wheel struct {
	// Path is the wheel's file; empty when it was opened from part of
	// another file (OpenData, OpenReaderAt).
	Path string
	Name Name
	// DistInfo is the archive's .dist-info directory, e.g. "flask-3.1.3.dist-info".
	DistInfo string
	// Data is the archive's .data directory name (it may be absent).
	Data string
	// RootIsPurelib says whether the archive root installs to purelib.
	RootIsPurelib bool
	// Record is the archive's RECORD, in file order.
	Record []RecordEntry
	// Console and GUI are the entry points of entry_points.txt, in file order.
	Console, GUI []EntryPoint
	// Metadata holds the METADATA headers that pipbake reports.
	Metadata Metadata
	// Warnings are things about the wheel an installer should say but
	// that do not stop it (an older or newer minor Wheel-Version, an
	// unparseable Requires-Python).
	Warnings []string

	release func() error // Close's: unmap and close what Open opened
	mapped  []byte       // the wheel's bytes when mapped, or nil when read through src
	src     io.ReaderAt
	size    int64
	zr      *zip.Reader
	members map[string]*zip.File
}

// Metadata is the part of METADATA the receipt, the SBOM and the
// installer use.
type Metadata struct {
	Name, Version, Summary, License, HomePage string
	RequiresDist                              []string
	// RequiresPython is the Requires-Python header as written ("" if none).
	RequiresPython string
	// requiresPython is RequiresPython parsed; nil when absent or invalid.
	requiresPython pep440.SpecifierSet
}

// RecordEntry is one RECORD row.
type RecordEntry struct {
	Path string
	// Algorithm and Digest (raw bytes) are empty when the row has no hash.
	Algorithm string
	Digest    []byte
	Size      int64 // -1 when absent
}

// EntryPoint is a console or GUI script definition, "name = module:attr".
type EntryPoint struct {
	Name, Module, Attr string
}

// Error describes a problem with a wheel file.
type Error struct {
	File   string // wheel file name
	Member string // archive member, when the problem is one member
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("wheel ")
	b.WriteString(strconv.Quote(e.File))
	if e.Member != "" {
		b.WriteString(" member ")
		b.WriteString(strconv.Quote(e.Member))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// OpenOption configures Open.
type OpenOption func(*openConfig)

type openConfig struct {
	check func(sha256 []byte) error
}

// CheckDigest has Open hash the whole file with sha256 and pass the sum to
// check before it reads anything inside the archive; an error from check
// is Open's error, unwrapped. A mapped file is read once: the hash comes
// from the same mapping the members are later read from.
func CheckDigest(check func(sha256 []byte) error) OpenOption {
	return func(c *openConfig) { c.check = check }
}

// Open opens a wheel and checks its structure: a valid filename, a readable
// zip, exactly one .dist-info directory matching the filename, a supported
// WHEEL version, a parseable RECORD that lists every member, and member names
// that stay inside the install target.
func Open(p string, opts ...OpenOption) (w *Wheel, err error) {
	base := filepath.Base(p)
	if _, err := ParseName(base); err != nil {
		return nil, &Error{File: base, Msg: "bad filename", Err: err}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, &Error{File: base, Msg: "open", Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &Error{File: base, Msg: "stat", Err: err}
	}
	data, unmap, mapped := mmap.File(f, st.Size())
	release := func() error {
		var err error
		if mapped {
			err = unmap()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	var src io.ReaderAt = f
	if !mapped {
		data = nil
	}
	w, err = open(base, data, src, st.Size(), release, opts)
	if err != nil {
		release()
		return nil, err
	}
	w.Path = p
	return w, nil
}

// OpenData opens the wheel called name whose bytes are data: a slice of a
// mapping someone else owns (a wheel inside a mapped tar archive), which
// must stay mapped until the wheel is closed. Checks are Open's.
func OpenData(name string, data []byte, opts ...OpenOption) (*Wheel, error) {
	return open(name, data, nil, int64(len(data)), nil, opts)
}

// OpenReaderAt opens the wheel called name from size bytes of r (a section
// of a larger file that could not be mapped). Checks are Open's.
func OpenReaderAt(name string, r io.ReaderAt, size int64, opts ...OpenOption) (*Wheel, error) {
	return open(name, nil, r, size, nil, opts)
}

// open reads a wheel from data (mapped memory) or, when data is nil, from
// src. release, when set, is called by Close.
func open(base string, data []byte, src io.ReaderAt, size int64, release func() error, opts []OpenOption) (w *Wheel, err error) {
	defer func() { // runs last, after guard's: no half-made Wheel with an error
		if err != nil {
			w = nil
		}
	}()
	var cfg openConfig
	for _, o := range opts {
		o(&cfg)
	}
	name, err := ParseName(base)
	if err != nil {
		return nil, &Error{File: base, Msg: "bad filename", Err: err}
	}
	if data != nil {
		src = bytes.NewReader(data)
	}
	defer guard(base, "", data, &err)()
	if cfg.check != nil {
		h := sha256.New()
		if data != nil {
			h.Write(data)
		} else if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
			return nil, &Error{File: base, Msg: "read", Err: err}
		}
		if err := cfg.check(h.Sum(nil)); err != nil {
			return nil, err
		}
	}
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return nil, &Error{File: base, Msg: "not a readable zip archive (corrupt or truncated download?)", Err: err}
	}
	zr.RegisterDecompressor(zip.Deflate, newInflater)
	w = &Wheel{Name: name, release: release, mapped: data, src: src, size: size, zr: zr, members: make(map[string]*zip.File, len(zr.File))}
	if err := w.index(); err != nil {
		return nil, err
	}
	if err := w.readWheelFile(); err != nil {
		return nil, err
	}
	if err := w.readRecord(); err != nil {
		return nil, err
	}
	if err := w.readEntryPoints(); err != nil {
		return nil, err
	}
	if err := w.readMetadata(); err != nil {
		return nil, err
	}
	return w, nil
}

// WriteTo copies the whole wheel file to dst; a mapped file cut short on
// disk meanwhile is an error naming the wheel, not a crash.
func (w *Wheel) WriteTo(dst io.Writer) (n int64, err error) {
	defer w.guard("", &err)()
	return io.Copy(dst, io.NewSectionReader(w.src, 0, w.size))
}

// Close releases the archive; its members cannot be read after.
func (w *Wheel) Close() error {
	release := w.release
	w.release, w.zr = nil, nil
	if release == nil {
		return nil
	}
	return release()
}

// Members returns the archive's file members (directories excluded).
func (w *Wheel) Members() []*zip.File {
	out := make([]*zip.File, 0, len(w.zr.File))
	for _, f := range w.zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			out = append(out, f)
		}
	}
	return out
}

func (w *Wheel) errf(member, format string, args ...any) error {
	return &Error{File: w.Name.File, Member: member, Msg: fmt.Sprintf(format, args...)}
}

// CheckMemberName refuses member names that could escape the directory they
// are extracted into: absolute paths, drive letters, backslashes, NUL bytes,
// and "." or ".." components.
func CheckMemberName(name string) error {
	switch {
	case name == "":
		return errors.New("empty member name")
	case strings.HasPrefix(name, "/"):
		return errors.New("absolute path")
	case strings.ContainsAny(name, "\\\x00"):
		return errors.New("backslash or NUL in name")
	case len(name) >= 2 && name[1] == ':':
		return errors.New("drive letter in name")
	}
	for _, part := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("path component %q escapes or confuses the target", part)
		}
	}
	return nil
}

func (w *Wheel) index() error {
	var distInfos, datas []string
	seen := map[string]bool{}
	for _, f := range w.zr.File {
		if err := CheckMemberName(f.Name); err != nil {
			return &Error{File: w.Name.File, Member: f.Name, Msg: "member escapes the install target", Err: err}
		}
		mode := f.Mode()
		if mode&fs.ModeSymlink != 0 || mode&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeCharDevice) != 0 {
			return w.errf(f.Name, "is a %s; wheels may hold only regular files", typeName(mode))
		}
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if seen[f.Name] {
			return w.errf(f.Name, "appears twice in the archive")
		}
		seen[f.Name] = true
		if err := w.checkLocal(f); err != nil {
			return &Error{File: w.Name.File, Member: f.Name, Msg: "inconsistent zip headers", Err: err}
		}
		w.members[f.Name] = f
		top, _, _ := strings.Cut(f.Name, "/")
		switch {
		case strings.HasSuffix(top, ".dist-info") && top != f.Name:
			if !contains(distInfos, top) {
				distInfos = append(distInfos, top)
			}
		case strings.HasSuffix(top, ".data") && top != f.Name:
			if !contains(datas, top) {
				datas = append(datas, top)
			}
		}
	}
	if len(distInfos) != 1 {
		return &Error{File: w.Name.File, Msg: fmt.Sprintf("want exactly one .dist-info directory, found %d %v", len(distInfos), distInfos)}
	}
	w.DistInfo = distInfos[0]
	stem := strings.TrimSuffix(w.DistInfo, ".dist-info")
	dname, dver, ok := strings.Cut(stem, "-")
	if !ok || pyname.Normalize(dname) != w.Name.Key() || !w.Name.Matches(dname, dver) {
		return &Error{File: w.Name.File, Msg: fmt.Sprintf(".dist-info directory %q does not match the filename's %s %s", w.DistInfo, w.Name.Distribution, w.Name.Version)}
	}
	switch len(datas) {
	case 0:
		w.Data = stem + ".data"
	case 1:
		if datas[0] != stem+".data" {
			return &Error{File: w.Name.File, Msg: fmt.Sprintf(".data directory %q does not match %q", datas[0], w.DistInfo)}
		}
		w.Data = datas[0]
	default:
		return &Error{File: w.Name.File, Msg: fmt.Sprintf("more than one .data directory: %v", datas)}
	}
	return nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	default:
		return "device"
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// maxMetadataSize bounds the members ReadMember reads into memory.
const maxMetadataSize = 64 << 20

// ReadMember returns the whole content of a member (of at most 64 MiB).
func (w *Wheel) ReadMember(name string) (_ []byte, err error) {
	defer w.guard(name, &err)()
	f, ok := w.members[name]
	if !ok {
		return nil, w.errf(name, "missing from the archive")
	}
	if f.UncompressedSize64 > maxMetadataSize {
		return nil, w.errf(name, "is %d bytes; pipbake reads metadata files of at most %d", f.UncompressedSize64, maxMetadataSize)
	}
	rc, err := w.openMember(f)
	if err != nil {
		return nil, &Error{File: w.Name.File, Member: name, Msg: "open", Err: err}
	}
	defer rc.Close()
	data, err := io.ReadAll(rc) // at most f.UncompressedSize64: the reader refuses more
	if err != nil {
		return nil, &Error{File: w.Name.File, Member: name, Msg: "read (corrupt archive?)", Err: err}
	}
	return data, nil
}

// parseHeaders reads RFC 822 style "Key: value" headers (WHEEL, METADATA),
// stopping at the first blank line; continuation lines are joined.
func parseHeaders(data []byte) map[string][]string {
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var last string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			vals := out[last]
			vals[len(vals)-1] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(k))
		out[last] = append(out[last], strings.TrimSpace(v))
	}
	return out
}

func (w *Wheel) readWheelFile() error {
	member := w.DistInfo + "/WHEEL"
	data, err := w.ReadMember(member)
	if err != nil {
		return err
	}
	h := parseHeaders(data)
	ver := first(h["wheel-version"])
	major, minor, err := parseWheelVersion(ver)
	switch {
	case ver == "":
		return w.errf(member, "has no Wheel-Version")
	case err != nil:
		return &Error{File: w.Name.File, Member: member, Msg: fmt.Sprintf("Wheel-Version %q", ver), Err: err}
	case major > 1:
		return w.errf(member, "Wheel-Version %s is not supported (pipbake installs version 1.x wheels; a new major version may change what the files mean)", ver)
	case major < 1 || minor > 0:
		// The specification refuses only a greater major version; pip
		// installs these silently, pipbake says so.
		w.Warnings = append(w.Warnings, fmt.Sprintf("%s: Wheel-Version %s is not 1.0; installed as a version 1.0 wheel", w.Name.File, ver))
	}
	w.RootIsPurelib = strings.EqualFold(first(h["root-is-purelib"]), "true")
	return nil
}

// parseWheelVersion parses a Wheel-Version such as "1.0".
func parseWheelVersion(v string) (major, minor int, err error) {
	a, b, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, errors.New("want MAJOR.MINOR, such as 1.0")
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || major < 0 || minor < 0 || strings.ContainsAny(v, "+- ") {
		return 0, 0, errors.New("want MAJOR.MINOR, such as 1.0")
	}
	return major, minor, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (w *Wheel) readRecord() error {
	member := w.DistInfo + "/RECORD"
	data, err := w.ReadMember(member)
	if err != nil {
		return err
	}
	rows, err := ParseRecord(data)
	if err != nil {
		return &Error{File: w.Name.File, Member: member, Msg: "malformed", Err: err}
	}
	for _, r := range rows {
		e := r.RecordEntry
		f, inZip := w.members[e.Path]
		switch {
		case e.Path == member:
			if e.Algorithm != "" || e.Size >= 0 {
				// what pypa/installer refuses too: a file cannot hold its own hash
				return w.errf(member, "line %d: RECORD lists a hash or size for itself", r.Line)
			}
		case !inZip:
			// A row for a file the archive does not hold (old wheels list
			// .pyc files; some list a file under another name): nothing
			// is installed for it, and the installed RECORD leaves it out.
			continue
		case e.Algorithm == "" && !isRecordFile(w.DistInfo, e.Path):
			return w.errf(member, "line %d: %q has no hash (pipbake checks every file against RECORD)", r.Line, e.Path)
		case e.Size >= 0 && uint64(e.Size) != f.UncompressedSize64:
			// Refused before anything is written: the zip directory's
			// size bounds what is inflated, and RECORD must agree.
			return w.errf(e.Path, "RECORD says %d bytes, the zip directory %d", e.Size, f.UncompressedSize64)
		}
		w.Record = append(w.Record, e)
	}
	listed := make(map[string]bool, len(rows))
	for _, r := range rows {
		listed[r.Path] = true
	}
	for _, f := range w.zr.File { // in archive order: the same member is named every time
		if w.members[f.Name] == f && !listed[f.Name] && !isRecordFile(w.DistInfo, f.Name) {
			return w.errf(f.Name, "is not listed in RECORD (pipbake installs only files RECORD vouches for)")
		}
	}
	return nil
}

// RecordRow is a RECORD entry with the line it came from.
type RecordRow struct {
	RecordEntry
	Line int
}

// ParseRecord parses a wheel's RECORD: CSV rows of path, algorithm=digest
// (urlsafe base64, unpadded or padded) and size, either of the last two
// possibly empty. Hashes must be sha256, sha384 or sha512 with a digest of
// the right length; a path may be listed once. Blank lines are skipped.
func ParseRecord(data []byte) ([]RecordRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var out []RecordRow
	listed := map[string]bool{}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not valid CSV: %w", err)
		}
		line, _ := r.FieldPos(0)
		if strings.Join(row, "") == "" { // a blank line, or ",," (pip skips it too)
			continue
		}
		for len(row) < 3 { // more than three: the rest is ignored, as pip does
			row = append(row, "")
		}
		e := RecordEntry{Path: row[0], Size: -1}
		if e.Path == "" {
			return nil, fmt.Errorf("line %d: empty path", line)
		}
		if row[1] != "" {
			alg, enc, ok := strings.Cut(row[1], "=")
			if !ok {
				return nil, fmt.Errorf("line %d: hash %q of %q is not algorithm=digest", line, row[1], e.Path)
			}
			want := digestSize(alg)
			if want == 0 {
				return nil, fmt.Errorf("line %d: hash algorithm %q of %q is not accepted (use sha256, sha384 or sha512)", line, alg, e.Path)
			}
			digest, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
			if err != nil {
				return nil, fmt.Errorf("line %d: hash of %q is not urlsafe base64: %w", line, e.Path, err)
			}
			if len(digest) != want {
				return nil, fmt.Errorf("line %d: %s digest of %q has %d bytes, want %d", line, alg, e.Path, len(digest), want)
			}
			e.Algorithm, e.Digest = alg, digest
		}
		if row[2] != "" {
			n, err := strconv.ParseInt(row[2], 10, 64)
			if err != nil || n < 0 || row[2][0] == '+' {
				return nil, fmt.Errorf("line %d: size %q of %q is not a number", line, row[2], e.Path)
			}
			e.Size = n
		}
		if listed[e.Path] {
			return nil, fmt.Errorf("line %d: %q is listed twice", line, e.Path)
		}
		listed[e.Path] = true
		out = append(out, RecordRow{RecordEntry: e, Line: line})
	}
}

func isRecordFile(distInfo, p string) bool {
	return p == distInfo+"/RECORD" || p == distInfo+"/RECORD.jws" || p == distInfo+"/RECORD.p7s"
}

func digestSize(alg string) int {
	switch alg { // the algorithms newHash can check
	case "sha256":
		return 32
	case "sha384":
		return 48
	case "sha512":
		return 64
	}
	return 0
}

// EncodeDigest renders a digest the way RECORD files do.
func EncodeDigest(alg string, digest []byte) string {
	return alg + "=" + base64.RawURLEncoding.EncodeToString(digest)
}

// HexDigest is a convenience for receipts.
func HexDigest(d []byte) string { return hex.EncodeToString(d) }

func (w *Wheel) readEntryPoints() error {
	member := w.DistInfo + "/entry_points.txt"
	if _, ok := w.members[member]; !ok {
		return nil
	}
	data, err := w.ReadMember(member)
	if err != nil {
		return err
	}
	w.Console, w.GUI, err = ParseEntryPoints(data)
	if err != nil {
		return &Error{File: w.Name.File, Member: member, Msg: "malformed", Err: err}
	}
	return nil
}

// ParseEntryPoints reads the console_scripts and gui_scripts sections of
// an entry_points.txt (an INI file: [section] headers, "name = module:attr
// [extras]" lines, # and ; comments), in file order; a later definition of
// a name replaces an earlier one, as Python's configparser reads it. Other
// sections are skipped.
func ParseEntryPoints(data []byte) (console, gui []EntryPoint, err error) {
	section := ""
	consoleIndex, guiIndex := map[string]int{}, map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimRight(line, "\r"))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		if section != "console_scripts" && section != "gui_scripts" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, nil, fmt.Errorf("line %d: %q is not name = module:attr", i+1, line)
		}
		ep, err := parseEntryPoint(strings.TrimSpace(k), strings.TrimSpace(v))
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		list, index := &console, consoleIndex
		if section == "gui_scripts" {
			list, index = &gui, guiIndex
		}
		if j, ok := index[ep.Name]; ok {
			(*list)[j] = ep
		} else {
			index[ep.Name] = len(*list)
			*list = append(*list, ep)
		}
	}
	return console, gui, nil
}

func parseEntryPoint(name, value string) (EntryPoint, error) {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return EntryPoint{}, fmt.Errorf("entry point name %q is not a valid script name", name)
	}
	if i := strings.IndexByte(value, '['); i >= 0 { // extras do not change the script
		value = strings.TrimSpace(value[:i])
	}
	mod, attr, ok := strings.Cut(value, ":")
	mod, attr = strings.TrimSpace(mod), strings.TrimSpace(attr)
	if !ok || attr == "" {
		return EntryPoint{}, fmt.Errorf("entry point %s = %s: a callable suffix (module:function) is required", name, value)
	}
	for _, part := range append(strings.Split(mod, "."), strings.Split(attr, ".")...) {
		if !isIdentifier(part) {
			return EntryPoint{}, fmt.Errorf("entry point %s = %s: %q is not a Python identifier", name, value, part)
		}
	}
	return EntryPoint{Name: name, Module: mod, Attr: attr}, nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

func (w *Wheel) readMetadata() error {
	member := w.DistInfo + "/METADATA"
	data, err := w.ReadMember(member)
	if err != nil {
		return err
	}
	h := parseHeaders(data)
	w.Metadata = Metadata{
		Name:           first(h["name"]),
		Version:        first(h["version"]),
		Summary:        first(h["summary"]),
		License:        first(h["license-expression"]),
		HomePage:       first(h["home-page"]),
		RequiresDist:   h["requires-dist"],
		RequiresPython: first(h["requires-python"]),
	}
	if rp := w.Metadata.RequiresPython; rp != "" {
		set, err := pep440.ParseSpecifier(rp)
		if err != nil {
			// pip warns and installs; so does pipbake, saying so
			w.Warnings = append(w.Warnings, fmt.Sprintf("%s: METADATA Requires-Python %q is not a valid specifier and is ignored: %v", w.Name.File, rp, err))
		} else {
			w.Metadata.requiresPython = set
		}
	}
	if w.Metadata.License == "" {
		if lic := first(h["license"]); !strings.Contains(lic, "\n") && len(lic) < 100 {
			w.Metadata.License = lic
		}
	}
	if w.Metadata.Name == "" || w.Metadata.Version == "" {
		return w.errf(member, "has no Name or Version")
	}
	if pyname.Normalize(w.Metadata.Name) != w.Name.Key() {
		return w.errf(member, "names %q, but the filename says %q", w.Metadata.Name, w.Name.Distribution)
	}
	return nil
}

// CheckPython refuses the wheel when its Requires-Python excludes an
// interpreter of version (major, minor, micro: pip compares
// sys.version_info[:3], so a pre-release interpreter counts as its
// final release).
func (w *Wheel) CheckPython(version [3]int) error {
	if w.Metadata.requiresPython == nil {
		return nil
	}
	v := fmt.Sprintf("%d.%d.%d", version[0], version[1], version[2])
	pv, err := pep440.Parse(v)
	if err != nil {
		return &Error{File: w.Name.File, Msg: "interpreter version " + v, Err: err}
	}
	if !w.Metadata.requiresPython.Contains(pv) {
		return &Error{File: w.Name.File, Msg: fmt.Sprintf("%s %s requires Python %s (METADATA Requires-Python), but the interpreter is Python %s",
			w.Metadata.Name, w.Metadata.Version, w.Metadata.RequiresPython, v)}
	}
	return nil
}

// Clean reports whether p is a clean relative path (helper for callers
// mapping RECORD paths).
func Clean(p string) bool { return path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".." }
