package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pipbake/packer-plugin-pipbake/internal/outfile"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Scheme gives the directories the parts of a wheel install into.
type Scheme struct {
	Purelib, Platlib, Scripts, Headers, Data string
}

// Options controls one wheel's installation.
type Options struct {
	Scheme Scheme
	// Root confines every written file: a member whose destination falls
	// outside Root is refused.
	Root string
	// Python is the interpreter path written into shebangs: the path it
	// will have when the scripts run.
	Python string
	// PythonVersion (major, minor) names pip's and setuptools' versioned
	// wrapper scripts (pip3, pip3.11, easy_install-3.11).
	PythonVersion [2]int
	// Installer is written to .dist-info/INSTALLER.
	Installer string
	// Requested writes .dist-info/REQUESTED.
	Requested bool
	// Dirs, shared by the wheels of one environment, remembers the
	// directories already made (nil: each Install keeps its own).
	Dirs *Dirs
	// EnvFiles are the environment's own files (absolute paths: its
	// interpreter links, pyvenv.cfg, activate scripts): no member and no
	// entry point script may write one, whatever its name.
	EnvFiles []string
}

// Install is one wheel's installation, split into member jobs that may run
// concurrently on any goroutine: Prepare, then Extract of every Job, then
// Finish.
type Install struct {
	W      *Wheel
	opts   Options
	libDir string
	jobs   []*Job
	// installed maps each RECORD path from the archive to its installed
	// path relative to libDir.
	installed map[string]string

	mu    sync.Mutex
	extra []File
}

// Job is one member of a wheel to write. The jobs of every wheel of an
// environment may be extracted concurrently, in any order, on any
// goroutine.
type Job struct {
	// Dest is the path the member is written to.
	Dest string
	// Size is the member's uncompressed size, for scheduling big members
	// first.
	Size int64
	// Python is set for a .py module in purelib or platlib: a file to
	// compile.
	Python bool

	in     *Install
	f      *zip.File
	entry  *RecordEntry
	script bool // from .data/scripts: rewrite #!python
	// superseded: a later distribution writes Dest (Supersede)
	superseded bool
	res        jobResult
}

type jobResult struct {
	digest  []byte // sha256 of the bytes written, when they differ from the archive
	size    int64
	changed bool
}

// File is a file an installation wrote, with its sha256.
type File struct {
	Path   string // absolute
	SHA256 []byte
	Size   int64
}

// Prepare maps every member to its destination and checks that all of them
// stay inside opts.Root. Nothing is written.
func (w *Wheel) Prepare(opts Options) (*Install, error) {
	if opts.Root == "" || opts.Python == "" {
		return nil, errors.New("wheel install: Root and Python are required")
	}
	if opts.Dirs == nil {
		opts.Dirs = &Dirs{}
	}
	in := &Install{W: w, opts: opts, installed: map[string]string{}}
	in.libDir = opts.Scheme.Platlib
	if w.RootIsPurelib {
		in.libDir = opts.Scheme.Purelib
	}
	wrappers := map[string]bool{}
	for _, ep := range append(append([]EntryPoint(nil), w.Console...), w.GUI...) {
		wrappers[ep.Name] = true
	}
	envFiles := make(map[string]bool, len(opts.EnvFiles))
	for _, p := range opts.EnvFiles {
		envFiles[filepath.Clean(p)] = true
	}
	if err := in.checkScriptNames(envFiles); err != nil {
		return nil, err
	}
	scriptsDir := filepath.Clean(opts.Scheme.Scripts)
	byDest := map[string]int{}
	add := func(j *Job, recordPath string) error {
		j.in, j.Size = in, int64(j.f.UncompressedSize64)
		if !within(opts.Root, j.Dest) {
			return w.errf(j.f.Name, "would install to %q, outside the environment", j.Dest)
		}
		if p := envFileAt(envFiles, opts.Root, j.Dest, in.libDir); p != "" {
			return w.errf(j.f.Name, "would overwrite %s, a file of the environment itself; pipbake refuses wheels that replace the interpreter, pyvenv.cfg or the activate scripts", p)
		}
		if filepath.Dir(j.Dest) == scriptsDir { // .data/scripts, or .data/data/bin
			if why := reservedScript(filepath.Base(j.Dest), w.Metadata.Name); why != "" {
				return w.errf(j.f.Name, "would install %s, which would replace %s; pipbake refuses such wheels", j.Dest, why)
			}
		}
		rel, err := relTo(in.libDir, j.Dest)
		if err != nil {
			return w.errf(j.f.Name, "cannot express %q relative to %q", j.Dest, in.libDir)
		}
		in.installed[recordPath] = filepath.ToSlash(rel)
		if i, dup := byDest[j.Dest]; dup { // later files replace earlier ones, as with pip
			in.jobs[i] = j
			return nil
		}
		byDest[j.Dest] = len(in.jobs)
		in.jobs = append(in.jobs, j)
		return nil
	}
	entries := make(map[string]*RecordEntry, len(w.Record))
	for i := range w.Record {
		entries[w.Record[i].Path] = &w.Record[i]
	}
	var dataMembers []*zip.File
	for _, f := range w.Members() {
		if isRecordFile(w.DistInfo, f.Name) && f.Name == w.DistInfo+"/RECORD" {
			continue
		}
		if strings.HasPrefix(f.Name, w.Data+"/") {
			dataMembers = append(dataMembers, f)
			continue
		}
		j := &Job{f: f, entry: entries[f.Name], Dest: filepath.Join(in.libDir, filepath.FromSlash(f.Name))}
		j.Python = strings.HasSuffix(f.Name, ".py")
		if err := add(j, f.Name); err != nil {
			return nil, err
		}
	}
	for _, f := range dataMembers {
		rest := strings.TrimPrefix(f.Name, w.Data+"/")
		key, sub, ok := strings.Cut(rest, "/")
		if !ok || sub == "" {
			return nil, w.errf(f.Name, "is not inside a scheme directory of %s", w.Data)
		}
		var base string
		switch key {
		case "purelib":
			base = opts.Scheme.Purelib
		case "platlib":
			base = opts.Scheme.Platlib
		case "scripts":
			base = opts.Scheme.Scripts
		case "headers":
			if opts.Scheme.Headers != "" {
				base = filepath.Join(opts.Scheme.Headers, w.Metadata.Name)
			}
		case "data":
			base = opts.Scheme.Data
		default:
			return nil, w.errf(f.Name, "unknown scheme directory %q (want purelib, platlib, scripts, headers or data)", key)
		}
		if base == "" {
			return nil, w.errf(f.Name, "the environment has no %s directory", key)
		}
		j := &Job{f: f, entry: entries[f.Name], Dest: filepath.Join(base, filepath.FromSlash(sub))}
		if key == "scripts" {
			if strings.Contains(sub, "/") {
				return nil, w.errf(f.Name, "scripts may not be in subdirectories")
			}
			if wrappers[wrapperName(sub)] {
				continue // setuptools' own wrapper: regenerated from entry points
			}
			if why := reservedScript(sub, w.Metadata.Name); why != "" {
				return nil, w.errf(f.Name, "script %q would replace %s; pipbake refuses such wheels", sub, why)
			}
			j.script = true
		}
		j.Python = (key == "purelib" || key == "platlib") && strings.HasSuffix(sub, ".py")
		if err := add(j, f.Name); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// envFileAt returns the environment file that dest is or lies under (a
// path through the lib64 link, say), or "". Files under libDir, where
// the environment has none, are not looked at: they are most of a wheel.
func envFileAt(envFiles map[string]bool, root, dest, libDir string) string {
	if len(envFiles) == 0 || strings.HasPrefix(dest, libDir+string(filepath.Separator)) {
		return ""
	}
	for d := dest; d != root && len(d) > len(root); d = filepath.Dir(d) {
		if envFiles[d] {
			return d
		}
	}
	return ""
}

// checkScriptNames refuses entry points that would replace the
// environment: its interpreter (python, python3, python3.X), its activate
// scripts, pip from any distribution but pip, or any other file of the
// environment.
func (in *Install) checkScriptNames(envFiles map[string]bool) error {
	w := in.W
	member := w.DistInfo + "/entry_points.txt"
	for _, spec := range in.scriptSpecs() {
		if why := reservedScript(spec.Name, w.Metadata.Name); why != "" {
			return w.errf(member, "entry point %q would replace %s; pipbake refuses such wheels", spec.Name, why)
		}
		dest := filepath.Join(in.opts.Scheme.Scripts, spec.Name)
		if envFiles[dest] {
			return w.errf(member, "entry point %q would overwrite %s, a file of the environment itself; pipbake refuses such wheels", spec.Name, dest)
		}
	}
	return nil
}

// reservedScript says what a script called name in the environment's bin
// folder would replace, or "" when nothing of the environment's.
func reservedScript(name, dist string) string {
	lower := strings.ToLower(name)
	switch {
	case isVersioned(lower, "python"):
		return "the environment's interpreter bin/" + name
	case lower == "activate" || strings.HasPrefix(lower, "activate.") || lower == "activate_this.py":
		// (not activate-global-python-argcomplete, argcomplete's own)
		return "the environment's activate script bin/" + name
	case isVersioned(lower, "pip") && pyname.Normalize(dist) != "pip":
		return "pip's bin/" + name + " (only the pip distribution may install it)"
	case lower == "pyvenv.cfg":
		return "the environment's pyvenv.cfg"
	}
	return ""
}

// isVersioned reports whether name is prefix, alone or followed by a
// version such as 3 or 3.12 (python3.12, pip3).
func isVersioned(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && strings.Trim(rest, "0123456789.") == ""
}

func wrapperName(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".exe"), strings.HasSuffix(lower, ".pya"):
		return name[:len(name)-4]
	case strings.HasSuffix(lower, "-script.py"):
		return name[:len(name)-10]
	}
	return name
}

// within reports whether p is root or inside it, lexically: both are
// cleaned, so a prefix comparison decides (this runs for every member).
func within(root, p string) bool {
	root, p = filepath.Clean(root), filepath.Clean(p)
	if root == "." {
		return !filepath.IsAbs(p) && p != ".." && !strings.HasPrefix(p, ".."+string(filepath.Separator))
	}
	if p == root {
		return true
	}
	if strings.HasSuffix(root, string(filepath.Separator)) { // "/"
		return strings.HasPrefix(p, root)
	}
	return strings.HasPrefix(p, root+string(filepath.Separator))
}

// relTo is filepath.Rel(base, p) with a fast path for p inside base.
func relTo(base, p string) (string, error) {
	if rest, ok := strings.CutPrefix(p, base); ok && base != "" && strings.HasPrefix(rest, string(filepath.Separator)) && filepath.Clean(p) == p {
		return rest[1:], nil
	}
	return filepath.Rel(base, p)
}

// Jobs are the members to write, one per destination.
func (in *Install) Jobs() []*Job { return in.jobs }

// Install is the installation the job belongs to.
func (j *Job) Install() *Install { return j.in }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Extract writes the member and checks it against RECORD. Different jobs
// may be extracted concurrently.
func (j *Job) Extract() (err error) {
	in := j.in
	w := in.W
	defer w.guard(j.f.Name, &err)()
	rc, err := w.openMember(j.f)
	if err != nil {
		return &Error{File: w.Name.File, Member: j.f.Name, Msg: "open", Err: err}
	}
	defer rc.Close()
	// the archive's mode, scripts included (as pip and pypa/installer)
	exec := zipExecutable(j.f)
	mode := os.FileMode(0o666)
	if exec {
		mode = 0o777
	}
	var out output = discarded{}
	if !j.superseded {
		f, err := in.opts.Dirs.Create(j.Dest, mode)
		if err != nil {
			return &Error{File: w.Name.File, Member: j.f.Name, Msg: "create " + j.Dest, Err: err}
		}
		out = f
	}
	closed := false
	defer func() { // on a fault in the mapping (see guard)
		if !closed {
			out.Close()
		}
	}()
	h := newHasher(j.entry)
	var n int64
	if j.script {
		n, err = in.writeScript(out, io.TeeReader(rc, h), &j.res)
	} else {
		bp := bufPool.Get().(*[]byte)
		n, err = outfile.Copy(out, rc, h, *bp)
		bufPool.Put(bp)
	}
	if err == nil && exec {
		err = out.Chmod(execMode())
	}
	closed = true
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{File: w.Name.File, Member: j.f.Name, Msg: "extract to " + j.Dest, Err: err}
	}
	if j.entry != nil {
		if j.entry.Size >= 0 && j.entry.Size != n {
			return &Error{File: w.Name.File, Member: j.f.Name, Msg: fmt.Sprintf("RECORD mismatch: has %d bytes, RECORD says %d", n, j.entry.Size)}
		}
		if got := h.Sum(nil); !bytes.Equal(got, j.entry.Digest) {
			return &Error{File: w.Name.File, Member: j.f.Name, Msg: fmt.Sprintf("RECORD mismatch: content hashes to %s, RECORD says %s", EncodeDigest(j.entry.Algorithm, got), EncodeDigest(j.entry.Algorithm, j.entry.Digest))}
		}
	}
	if !j.res.changed {
		j.res.size = n
	}
	return nil
}

// output is where Extract writes a member.
type output interface {
	io.Writer
	Chmod(os.FileMode) error
	Close() error
}

// discarded is the output of a superseded member: checked, not written.
type discarded struct{}

func (discarded) Write(p []byte) (int, error) { return len(p), nil }
func (discarded) Chmod(os.FileMode) error     { return nil }
func (discarded) Close() error                { return nil }

// Supersede marks the job as replaced by another distribution's file at
// the same path, installed after this one (the later one wins, as with
// pip): Extract still checks the member against RECORD but writes nothing,
// and this distribution's RECORD keeps its own row for the path. Call it
// before Extract.
func (j *Job) Supersede() { j.superseded = true }

// Superseded reports whether Supersede was called: Extract writes nothing.
func (j *Job) Superseded() bool { return j.superseded }

// RecordSHA256 is the member's sha256 as its wheel's RECORD lists it (nil
// when RECORD gives another algorithm or no hash). Once Extract has
// succeeded, the file written has exactly these bytes.
func (j *Job) RecordSHA256() []byte {
	if j.entry == nil || j.entry.Algorithm != "sha256" || j.script {
		return nil
	}
	return j.entry.Digest
}

func newHasher(e *RecordEntry) hash.Hash {
	if e == nil || e.Algorithm == "" {
		return nopHash{}
	}
	h, err := newHash(e.Algorithm)
	if err != nil {
		panic(err) // readRecord accepts only algorithms newHash knows
	}
	return h
}

type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }

func zipExecutable(f *zip.File) bool {
	mode := f.ExternalAttrs >> 16
	return mode != 0 && mode&0o170000 == 0o100000 && mode&0o111 != 0
}

// writeScript copies a .data/scripts file, replacing a "#!python" first line
// with the environment's interpreter.
func (in *Install) writeScript(out io.Writer, r io.Reader, res *jobResult) (int64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	n := int64(len(data))
	if !bytes.HasPrefix(data, []byte("#!python")) {
		_, err = out.Write(data)
		return n, err
	}
	rest := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		rest = data[i+1:]
	} else {
		rest = nil
	}
	content := append(Shebang(in.opts.Python), rest...)
	if _, err := out.Write(content); err != nil {
		return n, err
	}
	sum := sha256.Sum256(content)
	res.digest, res.size, res.changed = sum[:], int64(len(content)), true
	return n, nil
}

// Shebang returns the first line(s) of a script run by python: a plain
// "#!python" line, or, when that would be longer than the kernel accepts
// (127 bytes) or contains a space, a /bin/sh line that re-executes the file
// with python.
func Shebang(python string) []byte {
	if !strings.Contains(python, " ") && len(python)+3 <= 127 {
		return []byte("#!" + python + "\n")
	}
	q := python
	if strings.Contains(q, " ") && !strings.HasPrefix(q, `"`) {
		q = `"` + q + `"`
	}
	return []byte("#!/bin/sh\n'''exec' " + q + " \"$0\" \"$@\"\n' '''\n")
}

// AddFile records an extra file belonging to this distribution (a compiled
// .pyc) for its RECORD. Safe for concurrent use.
func (in *Install) AddFile(f File) {
	in.mu.Lock()
	in.extra = append(in.extra, f)
	in.mu.Unlock()
}

// Result describes a finished installation.
type Result struct {
	// DistInfo is the installed .dist-info directory.
	DistInfo string
	// Files are all installed files, absolute, sorted.
	Files []File
	// Scripts are the generated entry point wrappers.
	Scripts []string
}

// Finish writes entry point wrappers, INSTALLER, REQUESTED and the new
// RECORD. Call it after every Extract succeeded and every file added with
// AddFile is complete.
func (in *Install) Finish() (*Result, error) {
	w := in.W
	distInfo := filepath.Join(in.libDir, w.DistInfo)
	var generated []File
	var scripts []string
	for _, spec := range in.scriptSpecs() {
		dest := filepath.Join(in.opts.Scheme.Scripts, spec.Name)
		if !within(in.opts.Root, dest) {
			return nil, w.errf(w.DistInfo+"/entry_points.txt", "script %q would install outside the environment", spec.Name)
		}
		content := ScriptWrapper(in.opts.Python, spec)
		f, err := in.writeGenerated(dest, content, true)
		if err != nil {
			return nil, &Error{File: w.Name.File, Msg: "write script " + spec.Name, Err: err}
		}
		generated = append(generated, f)
		scripts = append(scripts, dest)
	}
	f, err := in.writeGenerated(filepath.Join(distInfo, "INSTALLER"), []byte(in.opts.Installer+"\n"), false)
	if err != nil {
		return nil, &Error{File: w.Name.File, Msg: "write INSTALLER", Err: err}
	}
	generated = append(generated, f)
	if in.opts.Requested {
		f, err := in.writeGenerated(filepath.Join(distInfo, "REQUESTED"), nil, false)
		if err != nil {
			return nil, &Error{File: w.Name.File, Msg: "write REQUESTED", Err: err}
		}
		generated = append(generated, f)
	}
	rows := make(map[string][3]string)
	var files []File
	for _, j := range in.jobs {
		res := j.res
		rel := in.installed[j.f.Name]
		// As pip writes it: a rewritten script's new hash and size, else
		// the wheel's own row; a file the wheel's RECORD does not list
		// (RECORD.jws, RECORD.p7s) gets neither.
		digest, size := "", ""
		var raw []byte
		switch {
		case res.changed:
			raw = res.digest
			digest, size = EncodeDigest("sha256", res.digest), strconv.FormatInt(res.size, 10)
		case j.entry != nil:
			if j.entry.Algorithm != "" {
				digest = EncodeDigest(j.entry.Algorithm, j.entry.Digest)
			}
			if j.entry.Algorithm == "sha256" {
				raw = j.entry.Digest
			}
			if j.entry.Size >= 0 {
				size = strconv.FormatInt(j.entry.Size, 10)
			}
		}
		rows[rel] = [3]string{rel, digest, size}
		files = append(files, File{Path: j.Dest, SHA256: raw, Size: res.size})
	}
	in.mu.Lock()
	extra := append(generated, in.extra...)
	in.mu.Unlock()
	for _, f := range extra {
		rel, err := relTo(in.libDir, f.Path)
		if err != nil {
			return nil, &Error{File: w.Name.File, Msg: "record " + f.Path, Err: err}
		}
		rel = filepath.ToSlash(rel)
		rows[rel] = [3]string{rel, EncodeDigest("sha256", f.SHA256), strconv.FormatInt(f.Size, 10)}
		files = append(files, f)
	}
	recordRel := w.DistInfo + "/RECORD"
	rows[recordRel] = [3]string{recordRel, "", ""}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	for _, k := range keys {
		r := rows[k]
		if err := cw.Write(r[:]); err != nil {
			return nil, err
		}
	}
	cw.Flush()
	recordPath := filepath.Join(distInfo, "RECORD")
	if _, err := in.writeGenerated(recordPath, buf.Bytes(), false); err != nil {
		return nil, &Error{File: w.Name.File, Msg: "write RECORD", Err: err}
	}
	files = append(files, File{Path: recordPath})
	sort.Slice(files, func(a, b int) bool { return files[a].Path < files[b].Path })
	return &Result{DistInfo: distInfo, Files: files, Scripts: scripts}, nil
}

// ScriptNames lists the entry point wrappers Finish will write.
func (in *Install) ScriptNames() []string {
	var out []string
	for _, spec := range in.scriptSpecs() {
		out = append(out, spec.Name)
	}
	return out
}

// ScriptSpec is one wrapper script to generate.
type ScriptSpec struct {
	Name, Module, Attr string
}

// scriptSpecs lists the wrappers to write: console then GUI entry points,
// with pip's convention for pip and easy_install (pip, pipX, pipX.Y;
// easy_install, easy_install-X.Y) whatever versions the wheel names.
func (in *Install) scriptSpecs() []ScriptSpec {
	maj, min := strconv.Itoa(in.opts.PythonVersion[0]), strconv.Itoa(in.opts.PythonVersion[1])
	var out []ScriptSpec
	var console []EntryPoint
	var pip, easy *EntryPoint
	for i, ep := range in.W.Console {
		switch ep.Name {
		case "pip":
			pip = &in.W.Console[i]
		case "easy_install":
			easy = &in.W.Console[i]
		default:
			console = append(console, ep)
		}
	}
	if pip != nil {
		for _, n := range []string{"pip", "pip" + maj, "pip" + maj + "." + min} {
			out = append(out, ScriptSpec{n, pip.Module, pip.Attr})
		}
		console = dropVersioned(console, "pip")
	}
	if easy != nil {
		for _, n := range []string{"easy_install", "easy_install-" + maj + "." + min} {
			out = append(out, ScriptSpec{n, easy.Module, easy.Attr})
		}
		console = dropVersioned(console, "easy_install")
	}
	for _, ep := range append(console, in.W.GUI...) {
		out = append(out, ScriptSpec(ep))
	}
	return out
}

// dropVersioned removes wrappers like pip3 or easy_install-3.8 that a wheel
// built them for another Python.
func dropVersioned(eps []EntryPoint, prefix string) []EntryPoint {
	var out []EntryPoint
	for _, ep := range eps {
		rest, ok := strings.CutPrefix(ep.Name, prefix)
		if ok && rest != "" && strings.Trim(rest, "0123456789.-") == "" {
			continue
		}
		out = append(out, ep)
	}
	return out
}

// ScriptWrapper renders the launcher for an entry point, byte for byte the
// way pip writes it on POSIX.
func ScriptWrapper(python string, s ScriptSpec) []byte {
	importName, _, _ := strings.Cut(s.Attr, ".")
	var b bytes.Buffer
	b.Write(Shebang(python))
	fmt.Fprintf(&b, "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %s import %s\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%s())\n", s.Module, importName, s.Attr)
	return b.Bytes()
}

func (in *Install) writeGenerated(dest string, content []byte, executable bool) (File, error) {
	_ = os.Remove(dest) // a wheel may ship a file of the same name; pip replaces it
	f, err := in.opts.Dirs.Create(dest, 0o666)
	if err != nil {
		return File{}, err
	}
	_, err = f.Write(content)
	if err == nil && executable {
		err = f.Chmod(os.FileMode(0o666&^umask()) | 0o555)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	sum := sha256.Sum256(content)
	return File{Path: dest, SHA256: sum[:], Size: int64(len(content))}, err
}
