package resolve

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// Wheel is one wheel file of the wheelhouse.
type Wheel struct {
	// File is its name in the folder; Path its path on disk.
	File, Path string
	Name       wheel.Name
	// SHA256 (hex) and Size are of the whole file.
	SHA256 string
	Size   int64
}

// dist is one version of one project in the wheelhouse: its wheels and,
// once loaded, what their metadata says.
type dist struct {
	key     string
	version pep440.Version
	wheels  []*Wheel

	loaded   bool
	name     string // METADATA Name
	vtext    string // METADATA Version
	requires []Requirement
	extras   map[string]bool // Provides-Extra, normalized
}

// label is "name version" for messages.
func (d *dist) label() string {
	if d.name != "" {
		return d.name + " " + d.vtext
	}
	return d.key + " " + d.version.String()
}

// files lists the dist's wheel file names, for messages.
func (d *dist) files() string {
	names := make([]string, len(d.wheels))
	for i, w := range d.wheels {
		names[i] = w.File
	}
	return strings.Join(names, ", ")
}

// house is a scanned wheelhouse folder.
type house struct {
	dir   string
	byKey map[string][]*dist // newest version first
	notes []string
}

// scan lists dir's wheels by project and version. Files that are not
// wheels are ignored; a .whl whose name does not parse, or that is not a
// regular file, is noted and skipped.
func scan(dir string) (*house, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read wheelhouse: %w", err)
	}
	h := &house{dir: dir, byKey: map[string][]*dist{}}
	for _, e := range entries {
		file := e.Name()
		if !strings.HasSuffix(file, ".whl") {
			continue
		}
		n, err := wheel.ParseName(file)
		if err != nil {
			h.notes = append(h.notes, fmt.Sprintf("skipped %s: %v", quoteName(file), err))
			continue
		}
		v, err := pep440.Parse(n.Version)
		if err != nil || !pyname.Valid(n.Distribution) {
			h.notes = append(h.notes, fmt.Sprintf("skipped %s: not a valid project name and version", quoteName(file)))
			continue
		}
		p := filepath.Join(dir, file)
		st, err := os.Stat(p) // a symlink to a wheel elsewhere is the wheel
		if err != nil || !st.Mode().IsRegular() {
			h.notes = append(h.notes, fmt.Sprintf("skipped %s: not a regular file", quoteName(file)))
			continue
		}
		w := &Wheel{File: file, Path: p, Name: n, Size: st.Size()}
		key := n.Key()
		var d *dist
		for _, x := range h.byKey[key] {
			if pep440.Compare(x.version, v) == 0 {
				d = x
			}
		}
		if d == nil {
			d = &dist{key: key, version: v}
			h.byKey[key] = append(h.byKey[key], d)
		}
		d.wheels = append(d.wheels, w)
	}
	for _, ds := range h.byKey {
		slices.SortFunc(ds, func(a, b *dist) int { return pep440.Compare(b.version, a.version) })
		for _, d := range ds {
			slices.SortFunc(d.wheels, func(a, b *Wheel) int { return strings.Compare(a.File, b.File) })
		}
	}
	return h, nil
}

// quoteName quotes a file name for a message when it holds anything
// unusual.
func quoteName(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == 0x7f || r > 0x7e }) >= 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// versions lists a project's versions in the folder, for messages:
// "six 1.16.0 (six-1.16.0-py2.py3-none-any.whl)".
func (h *house) versions(key string) string {
	var parts []string
	for _, d := range h.byKey[key] {
		parts = append(parts, fmt.Sprintf("%s (%s)", d.label(), d.files()))
	}
	return strings.Join(parts, ", ")
}

// load hashes a dist's wheels and reads their metadata: each wheel is
// opened and checked as an install would (wheel.Open), its METADATA must
// name the project and version of its file name, and the dist's
// requirements are the union of its wheels' Requires-Dist.
func (h *house) load(d *dist) error {
	if d.loaded {
		return nil
	}
	d.extras = map[string]bool{}
	seen := map[string]bool{}
	for _, w := range d.wheels {
		var sum []byte
		ww, err := wheel.Open(w.Path, wheel.CheckDigest(func(s []byte) error { sum = s; return nil }))
		if err != nil {
			return fmt.Errorf("wheelhouse %s: %w", h.dir, err)
		}
		err = func() error {
			defer ww.Close()
			w.SHA256 = hex.EncodeToString(sum)
			md := ww.Metadata
			mv, err := pep440.Parse(md.Version)
			if err != nil || pep440.Compare(mv, d.version) != 0 {
				return fmt.Errorf("wheel %s: its METADATA says version %q, its file name %s", w.File, md.Version, w.Name.Version)
			}
			if d.name == "" {
				d.name, d.vtext = md.Name, md.Version
			}
			raw, err := ww.ReadMember(ww.DistInfo + "/METADATA")
			if err != nil {
				return err
			}
			for _, e := range headerValues(raw, "provides-extra") {
				d.extras[pyname.Normalize(e)] = true
			}
			for _, rd := range md.RequiresDist {
				r, err := ParseRequirement(rd)
				if err != nil {
					return fmt.Errorf("wheel %s: Requires-Dist: %w", w.File, err)
				}
				r.From = d.name + " " + d.vtext
				k := r.String() + ";" + r.Marker.String()
				if !seen[k] {
					seen[k] = true
					d.requires = append(d.requires, r)
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	d.loaded = true
	return nil
}

// headerValues returns the values of one header of a METADATA file (up to
// its first blank line).
func headerValues(data []byte, key string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
