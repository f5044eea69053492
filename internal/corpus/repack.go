package corpus

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// packed is one file of a distribution as it goes into the wheel.
type packed struct {
	arc     string // path in the archive
	disk    string // path on disk
	size    int64
	mode    os.FileMode
	modTime int64
	script  bool // under .data/scripts: restore a #!python shebang
}

// dist is a distribution planned for repacking.
type dist struct {
	distInfo string // its .dist-info directory on disk
	name     string
	version  string
	wheel    *wheelpack.WheelInfo // nil when it has no WHEEL file
	files    []packed
	record   []byte
}

func (d *dist) label() string {
	if d.name != "" {
		return d.name + " " + d.version
	}
	return filepath.Base(d.distInfo)
}

// planOne plans the distribution whose .dist-info directory is distInfo
// and reports whether old records a wheel built from the same inputs that
// is still in wheelDir.
func planOne(in *Interpreter, distInfo, wheelDir string, old manifest) (*dist, manifestEntry, bool, error) {
	d, err := plan(in, distInfo)
	if err != nil {
		return d, manifestEntry{}, false, fmt.Errorf("repack %q: %w", d.label(), err)
	}
	recordSum := sha256.Sum256(d.record)
	entry := manifestEntry{RecordSHA256: hex.EncodeToString(recordSum[:]), Inputs: d.inputsKey(), Name: d.name, Version: d.version}
	if e, ok := old.Entries[filepath.Base(distInfo)]; ok && e.Inputs == entry.Inputs && e.RecordSHA256 == entry.RecordSHA256 {
		if fi, err := os.Stat(filepath.Join(wheelDir, e.File)); err == nil && fi.Size() == e.Size {
			return d, e, true, nil
		}
	}
	return d, entry, false, nil
}

// buildOne writes the planned distribution's wheel into wheelDir.
func buildOne(in *Interpreter, d *dist, wheelDir string) (manifestEntry, error) {
	res, err := d.build(in, wheelDir)
	if err != nil {
		return manifestEntry{}, fmt.Errorf("repack %q: %w", d.label(), err)
	}
	recordSum := sha256.Sum256(d.record)
	return manifestEntry{
		RecordSHA256: hex.EncodeToString(recordSum[:]), Inputs: d.inputsKey(),
		Name: d.name, Version: d.version, File: res.File, SHA256: res.SHA256, Size: res.Size,
	}, nil
}

// bytes is the total size of the distribution's files.
func (d *dist) bytes() int64 {
	var n int64
	for _, f := range d.files {
		n += f.size
	}
	return n
}

// dropped are .dist-info files an installer writes for itself; RECORD is
// regenerated.
var dropped = map[string]bool{
	"INSTALLER": true, "REQUESTED": true, "direct_url.json": true,
	"RECORD": true, "RECORD.jws": true, "RECORD.p7s": true,
}

// plan reads the distribution's metadata and RECORD and decides where each
// installed file goes in the wheel.
func plan(in *Interpreter, distInfo string) (*dist, error) {
	d := &dist{distInfo: distInfo}
	meta, err := os.ReadFile(filepath.Join(distInfo, "METADATA"))
	if err != nil {
		return d, fmt.Errorf("read METADATA: %w", err)
	}
	headers := parseHeaders(meta)
	d.name, d.version = headers["name"], headers["version"]
	if !pyname.Valid(d.name) || d.version == "" {
		return d, fmt.Errorf("METADATA has name %q, version %q", d.name, d.version)
	}
	if data, err := os.ReadFile(filepath.Join(distInfo, "WHEEL")); err == nil {
		wi, err := wheelpack.ParseWHEEL(data)
		if err != nil {
			return d, err
		}
		d.wheel = &wi
	} else if !errors.Is(err, os.ErrNotExist) {
		return d, fmt.Errorf("read WHEEL: %w", err)
	}
	if d.record, err = os.ReadFile(filepath.Join(distInfo, "RECORD")); err != nil {
		return d, fmt.Errorf("read RECORD: %w", err)
	}
	rows, err := wheelpack.ParseRecord(d.record)
	if err != nil {
		return d, fmt.Errorf("read RECORD: %w", err)
	}
	entryPoints, err := scriptEntryPoints(filepath.Join(distInfo, "entry_points.txt"))
	if err != nil {
		return d, err
	}

	site := filepath.Dir(distInfo)
	stem := pyname.WheelEscape(d.name) + "-" + strings.ReplaceAll(d.version, "-", "_")
	newDistInfo, dataDir := stem+".dist-info", stem+".data"
	for _, row := range rows {
		p := filepath.FromSlash(row.Path)
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		p = filepath.Clean(p)
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist) && row.Hash == "":
			continue // unhashed leftovers such as compiled scripts
		case err != nil:
			return d, fmt.Errorf("RECORD lists %s: %w", row.Path, err)
		case fi.IsDir():
			continue
		}
		arc, script, err := placeFile(in, site, p, filepath.Base(distInfo), newDistInfo, dataDir, d.name, entryPoints)
		if err != nil {
			return d, fmt.Errorf("RECORD lists %s: %w", row.Path, err)
		}
		if arc == "" {
			continue
		}
		d.files = append(d.files, packed{arc: arc, disk: p, size: fi.Size(), mode: fi.Mode().Perm(), modTime: fi.ModTime().UnixNano(), script: script})
	}
	return d, nil
}

// placeFile maps an installed file to its path in the wheel; "" drops it.
func placeFile(in *Interpreter, site, p, oldDistInfo, newDistInfo, dataDir, name string, entryPoints map[string]bool) (arc string, script bool, err error) {
	rel, ok := under(site, p)
	if ok {
		if isBytecode(rel) {
			return "", false, nil
		}
		if first, rest, _ := strings.Cut(rel, "/"); first == oldDistInfo {
			if dropped[rest] {
				return "", false, nil
			}
			return newDistInfo + "/" + rest, false, nil
		}
		return rel, false, nil
	}
	if rel, ok := under(in.Scripts, p); ok {
		if isBytecode(rel) || entryPoints[rel] {
			return "", false, nil // the installer writes console-script wrappers itself
		}
		return dataDir + "/scripts/" + rel, true, nil
	}
	for _, root := range []string{in.Include, filepath.Join(in.Data, "include", "site", fmt.Sprintf("python%d.%d", in.Major, in.Minor))} {
		if rel, ok := under(root, p); ok {
			if dir, rest, ok := strings.Cut(rel, "/"); ok && pyname.Normalize(dir) == pyname.Normalize(name) {
				return dataDir + "/headers/" + rest, false, nil
			}
		}
	}
	if rel, ok := under(in.Data, p); ok {
		if isBytecode(rel) {
			return "", false, nil
		}
		return dataDir + "/data/" + rel, false, nil
	}
	return "", false, fmt.Errorf("%s is outside %s", p, in.Data)
}

// under returns p relative to root, with '/' separators, when p is inside
// root.
func under(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func isBytecode(rel string) bool {
	return strings.HasPrefix(rel, "__pycache__/") || strings.Contains(rel, "/__pycache__/")
}

// scriptEntryPoints returns the names of the console_scripts and
// gui_scripts entry points in an entry_points.txt, if there is one.
func scriptEntryPoints(path string) (map[string]bool, error) {
	names := map[string]bool{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read entry points: %w", err)
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.TrimSpace(strings.Trim(line, "[]"))
		case section == "console_scripts" || section == "gui_scripts":
			if k, _, ok := strings.Cut(line, "="); ok {
				names[strings.TrimSpace(k)] = true
			}
		}
	}
	return names, sc.Err()
}

// parseHeaders reads the "Key: value" header block of a METADATA file
// (keys lower-cased; the first occurrence wins).
func parseHeaders(data []byte) map[string]string {
	h := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			k = strings.ToLower(strings.TrimSpace(k))
			if _, dup := h[k]; !dup {
				h[k] = strings.TrimSpace(v)
			}
		}
	}
	return h
}

// inputsKey hashes everything the wheel is made from.
func (d *dist) inputsKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "pipbake corpus %d\n", manifestVersion)
	h.Write(d.record)
	for _, f := range d.files {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%d\x00%o\x00%d", f.arc, f.disk, f.size, f.mode, f.modTime)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// build writes the wheel. The original WHEEL file is kept (its tags name
// the wheel); one is synthesized when the distribution has none.
func (d *dist) build(in *Interpreter, wheelDir string) (wheelpack.Result, error) {
	meta := wheelpack.Meta{Name: d.name, Version: d.version, ModTime: wheelpack.DefaultTime}
	if d.wheel != nil {
		meta.Tags, meta.Build, meta.RootIsPurelib = d.wheel.Tags, d.wheel.Build, d.wheel.RootIsPurelib
	} else {
		meta.Generator = "pipbake-corpus"
		meta.RootIsPurelib = true
		meta.Tags = []string{"py3-none-any"}
		for _, f := range d.files {
			if isExtension(f.arc, in.ExtSuffix) {
				meta.RootIsPurelib = false
				meta.Tags = []string{in.Tag() + "-" + in.Tag() + "-" + in.PlatformTag()}
				break
			}
		}
	}
	b, err := wheelpack.New(meta)
	if err != nil {
		return wheelpack.Result{}, err
	}
	for _, f := range d.files {
		if f.script {
			data, err := os.ReadFile(f.disk)
			if err != nil {
				return wheelpack.Result{}, fmt.Errorf("read script: %w", err)
			}
			if err := b.Add(f.arc, f.mode, restoreShebang(data)); err != nil {
				return wheelpack.Result{}, err
			}
		} else if err := b.AddReader(f.arc, f.mode, openFile(f.disk)); err != nil {
			return wheelpack.Result{}, err
		}
	}
	return b.WriteFile(wheelDir)
}

func openFile(p string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(p) }
}

func isExtension(arc, extSuffix string) bool {
	return (extSuffix != "" && strings.HasSuffix(arc, extSuffix)) || strings.HasSuffix(arc, ".so") || strings.HasSuffix(arc, ".pyd")
}
