package lock_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// reference is what testdata/pipref.py reports: pip's reading of each
// requirements file and a PEP 751 reading of each pylock.toml (see the
// script's doc string for what is read and how), made with pyenv's
// Python 3.11 and its pip.
type reference struct {
	Python string                 `json:"python"`
	Env    marker.Env             `json:"env"`
	Files  map[string]*reference1 `json:"files"`
}

type reference1 struct {
	Kind  string `json:"kind"`
	Error string `json:"error"`

	Requirements []pipRequirement `json:"requirements"`

	LockVersion          *string      `json:"lock_version"`
	EnvironmentSupported bool         `json:"environment_supported"`
	Packages             []pylockFact `json:"packages"`
}

type pipRequirement struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Editable bool     `json:"editable"`
	Error    string   `json:"error"`
	Name     string   `json:"name"`
	Pinned   *string  `json:"pinned"`
	Wildcard bool     `json:"wildcard"`
	URL      *string  `json:"url"`
	Hashes   []string `json:"hashes"`
	Selected bool     `json:"selected"`
}

// installable reports whether pipbake should accept the requirement: a
// name pinned with one exact == and with a sha256 hash.
func (r pipRequirement) installable() bool {
	return r.Error == "" && !r.Editable && r.URL == nil && r.Pinned != nil &&
		slices.ContainsFunc(r.Hashes, func(h string) bool { return strings.HasPrefix(h, "sha256:") })
}

type pylockFact struct {
	Line     int      `json:"line"`
	Name     *string  `json:"name"`
	Version  *string  `json:"version"`
	Marker   *string  `json:"marker"`
	Sources  []string `json:"sources"`
	Selected bool     `json:"selected"`
	Wheels   []struct {
		Name   string  `json:"name"`
		SHA256 *string `json:"sha256"`
	} `json:"wheels"`
}

// peerLocks returns the files listed in testdata/peer/locks/SOURCES.tsv,
// checking that the list and the folder agree.
func peerLocks(t *testing.T) (root string, files []string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "testdata", "peer", "locks"))
	if err != nil {
		t.Fatal(err)
	}
	tsv, err := os.ReadFile(filepath.Join(root, "SOURCES.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(tsv)), "\n") {
		if i == 0 {
			continue // header
		}
		file, _, _ := strings.Cut(line, "\t")
		files = append(files, filepath.Join(root, file))
	}
	var present []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "SOURCES.tsv" {
			present = append(present, p)
		}
		return err
	})
	slices.Sort(present)
	listed := slices.Sorted(slices.Values(files))
	if !slices.Equal(present, listed) {
		t.Fatalf("SOURCES.tsv lists %d files, the folder holds %d", len(listed), len(present))
	}
	return root, files
}

// TestRealWorldLocks reads every real-world lock of testdata/peer/locks
// and compares pipbake's reading with pip's (requirements files) or a
// PEP 751 reading with the standard library (pylock.toml), for pyenv's
// Python 3.11 on this machine:
//   - an accepted file has exactly the reference's installable entries
//     as pins (line, name, version, hashes; for pylock also marker and
//     wheels), and ForEnv selects the ones the reference selects;
//   - a refused file has every refusal name the file, a line (but for a
//     whole-file problem), and a reason that the reference's facts at
//     that line confirm; for requirements files the refusals are exactly
//     the entries pip reads that are not installable pins.
func TestRealWorldLocks(t *testing.T) {
	py := corpustest.PyenvPython(t, "3.11")
	root, files := peerLocks(t)
	out := corpustest.Run(t, py, nil, append([]string{filepath.Join("testdata", "pipref.py")}, files...)...)
	var ref reference
	if err := json.Unmarshal([]byte(out), &ref); err != nil {
		t.Fatalf("pipref.py output: %v", err)
	}
	if !strings.HasPrefix(ref.Python, "3.11.") || ref.Env["python_version"] != "3.11" {
		t.Fatalf("reference from Python %s", ref.Python)
	}
	accepted, refused := 0, 0
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		r := ref.Files[path]
		if r == nil {
			t.Errorf("%s: no reference", rel)
			continue
		}
		t.Run(rel, func(t *testing.T) {
			l, err := lock.ParseFile(path)
			if err != nil {
				refused++
				errs := lockErrors(t, err)
				if r.Kind == "requirements" {
					checkRequirementsRefusals(t, path, r, errs)
				} else {
					checkPyLockRefusals(t, path, r, errs)
				}
				return
			}
			accepted++
			if r.Error != "" {
				t.Fatalf("pipbake accepts the file; the reference cannot read it: %s", r.Error)
			}
			if r.Kind == "requirements" {
				checkRequirements(t, l, r, ref.Env)
			} else {
				checkPyLock(t, l, r, ref.Env)
			}
		})
	}
	t.Logf("%d locks accepted, %d refused", accepted, refused)
	if accepted == 0 || refused == 0 {
		t.Errorf("want both accepted and refused locks in the corpus")
	}
}

func lockErrors(t *testing.T, err error) []*lock.Error {
	t.Helper()
	var out []*lock.Error
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var le *lock.Error
		if !errors.As(err, &le) {
			t.Fatalf("error %v (%T) is not a *lock.Error", err, err)
		}
		out = append(out, le)
	}
	walk(err)
	return out
}

func hashStrings(hs []lock.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Algorithm + ":" + h.Hex
	}
	slices.Sort(out)
	return out
}

func checkRequirements(t *testing.T, l *lock.Lock, r *reference1, env marker.Env) {
	var want []pipRequirement
	for _, req := range r.Requirements {
		if !req.installable() {
			t.Errorf("line %d: pipbake accepts %+v, which is no hashed exact pin", req.Line, req)
		}
		want = append(want, req)
	}
	if len(l.Pins) != len(want) {
		t.Fatalf("pipbake has %d pins, pip %d requirements", len(l.Pins), len(want))
	}
	for i, p := range l.Pins {
		w := want[i]
		if p.Line != w.Line || p.Key() != w.Name || p.Version != *w.Pinned || !slices.Equal(hashStrings(p.Hashes), w.Hashes) {
			t.Errorf("pin %d: pipbake line %d %s==%s %v; pip line %d %s==%s %v", i, p.Line, p.Key(), p.Version, hashStrings(p.Hashes), w.Line, w.Name, *w.Pinned, w.Hashes)
		}
	}
	pins, err := l.ForEnv(env)
	if err != nil {
		t.Fatalf("ForEnv: %v", err)
	}
	var got, sel []string
	for _, p := range pins {
		got = append(got, fmt.Sprintf("%d:%s", p.Line, p.Key()))
	}
	for _, w := range want {
		if w.Selected {
			sel = append(sel, fmt.Sprintf("%d:%s", w.Line, w.Name))
		}
	}
	if !slices.Equal(got, sel) {
		t.Errorf("for Python 3.11 pipbake selects %v\npip selects %v", got, sel)
	}
}

// refusal matches a problem message to the reference fact it claims.
type refusal struct {
	re    *regexp.Regexp
	holds func(req pipRequirement) bool
}

var requirementRefusals = []refusal{
	{regexp.MustCompile(`has no --hash`), func(r pipRequirement) bool { return len(r.Hashes) == 0 && r.Pinned != nil && r.URL == nil }},
	{regexp.MustCompile(`is not pinned with ==`), func(r pipRequirement) bool { return r.Pinned == nil && !r.Wildcard && r.URL == nil }},
	{regexp.MustCompile(`pins a wildcard`), func(r pipRequirement) bool { return r.Wildcard }},
	{regexp.MustCompile(`is a URL or path|is a direct URL reference|editable requirement`), func(r pipRequirement) bool { return r.URL != nil || r.Editable }},
}

var moreProblems = regexp.MustCompile(`^\.\.\. and (\d+) more problems`)

func checkRequirementsRefusals(t *testing.T, path string, r *reference1, errs []*lock.Error) {
	if r.Error != "" {
		t.Logf("pip cannot read it either: %s", r.Error)
		return
	}
	byLine := map[int]pipRequirement{}
	bad := 0
	for _, req := range r.Requirements {
		byLine[req.Line] = req
		if !req.installable() {
			bad++
		}
	}
	total := 0
	for i, e := range errs {
		if e.File != path {
			t.Errorf("refusal %q names %q, not the file", e.Error(), e.File)
		}
		if m := moreProblems.FindStringSubmatch(e.Msg); m != nil && i == len(errs)-1 {
			n, _ := strconv.Atoi(m[1])
			total += n
			continue
		}
		total++
		if e.Line <= 0 {
			t.Errorf("refusal %q names no line", e.Error())
			continue
		}
		req, ok := byLine[e.Line]
		if !ok {
			t.Errorf("refusal %q: pip reads no requirement on line %d", e.Error(), e.Line)
			continue
		}
		matched := false
		for _, rf := range requirementRefusals {
			if rf.re.MatchString(e.Msg) {
				matched = true
				if !rf.holds(req) {
					t.Errorf("refusal %q: pip reads line %d as %+v", e.Error(), e.Line, req)
				}
			}
		}
		if !matched {
			t.Errorf("refusal %q: this test does not know how to check its reason against pip", e.Error())
		}
	}
	if total != bad {
		t.Errorf("pipbake reports %d problems; pip reads %d requirements that are not hashed exact pins", total, bad)
	}
}

func checkPyLock(t *testing.T, l *lock.Lock, r *reference1, env marker.Env) {
	if len(l.Pins) != len(r.Packages) {
		t.Fatalf("pipbake has %d pins, the file %d packages", len(l.Pins), len(r.Packages))
	}
	for i, p := range l.Pins {
		f := r.Packages[i]
		if f.Name == nil || f.Version == nil || len(f.Wheels) == 0 {
			t.Errorf("package %d: pipbake accepts %+v without a name, version or wheel", i, f)
			continue
		}
		fm := ""
		if f.Marker != nil {
			fm = *f.Marker
		}
		if p.Line != f.Line || p.Key() != pyname.Normalize(*f.Name) || p.Version != *f.Version || p.Marker != fm {
			t.Errorf("package %d: pipbake line %d %s %s %q; file line %d %s %s %q", i, p.Line, p.Name, p.Version, p.Marker, f.Line, *f.Name, *f.Version, fm)
		}
		var got, want []string
		for _, w := range p.Wheels {
			sum := ""
			for _, h := range w.Hashes {
				if h.Algorithm == "sha256" {
					sum = h.Hex
				}
			}
			got = append(got, w.Name+" "+sum)
		}
		for _, w := range f.Wheels {
			sum := ""
			if w.SHA256 != nil {
				sum = strings.ToLower(*w.SHA256)
			}
			want = append(want, w.Name+" "+sum)
		}
		if !slices.Equal(got, want) {
			t.Errorf("package %s: pipbake wheels %v, file %v", p.Name, got, want)
		}
	}
	pins, err := l.ForEnv(env)
	if !r.EnvironmentSupported {
		if err == nil {
			t.Errorf("ForEnv accepts Python 3.11, which the lock's requires-python or environments exclude")
		}
		return
	}
	if err != nil {
		t.Fatalf("ForEnv: %v", err)
	}
	var got, sel []string
	for _, p := range pins {
		got = append(got, fmt.Sprintf("%d:%s", p.Line, p.Key()))
	}
	for _, f := range r.Packages {
		if f.Selected {
			sel = append(sel, fmt.Sprintf("%d:%s", f.Line, pyname.Normalize(*f.Name)))
		}
	}
	if !slices.Equal(got, sel) {
		t.Errorf("for Python 3.11 pipbake selects %v\nthe reference selects %v", got, sel)
	}
}

// keyLine returns the line of a top-level `key =` in a TOML file.
func keyLine(t *testing.T, path, key string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\s*` + key + `\s*=`)
	for i, line := range strings.Split(string(data), "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	t.Fatalf("%s has no %s key", path, key)
	return 0
}

var pylockRefusals = []struct {
	re    *regexp.Regexp
	holds func(f pylockFact, m []string) bool
}{
	{regexp.MustCompile(`^package "([^"]+)" has no version`), func(f pylockFact, m []string) bool {
		return f.Name != nil && *f.Name == m[1] && f.Version == nil
	}},
	{regexp.MustCompile(`^package "([^"]+)" has no wheels, only (.*); pipbake installs wheels only`), func(f pylockFact, m []string) bool {
		return f.Name != nil && *f.Name == m[1] && len(f.Wheels) == 0 && strings.Join(f.Sources, ", ") == strings.Replace(m[2], " or ", ", ", 1)
	}},
	{regexp.MustCompile(`^package "([^"]+)" has no wheels; pipbake installs wheels only`), func(f pylockFact, m []string) bool {
		return f.Name != nil && *f.Name == m[1] && len(f.Wheels) == 0 && len(f.Sources) == 0
	}},
}

func checkPyLockRefusals(t *testing.T, path string, r *reference1, errs []*lock.Error) {
	if r.Error != "" {
		t.Logf("the reference cannot read it either: %s", r.Error)
		return
	}
	// Each [[packages]] header is a package's line. Packages written as
	// an inline array (packages = [{...}, ...]) share the key's line and
	// are told apart by the name the refusal gives.
	byLine := map[int][]pylockFact{}
	inlineLine := 0
	for _, f := range r.Packages {
		if f.Line == 0 {
			inlineLine = keyLine(t, path, "packages")
			f.Line = inlineLine
		}
		byLine[f.Line] = append(byLine[f.Line], f)
	}
	for i, e := range errs {
		if e.File != path {
			t.Errorf("refusal %q names %q, not the file", e.Error(), e.File)
		}
		if moreProblems.MatchString(e.Msg) && i == len(errs)-1 {
			continue
		}
		if e.Line == 0 {
			// Whole-file problems.
			if strings.HasPrefix(e.Msg, "missing lock-version") && r.LockVersion == nil {
				continue
			}
			t.Errorf("refusal %q names no line", e.Error())
			continue
		}
		fs, ok := byLine[e.Line]
		if !ok {
			t.Errorf("refusal %q: line %d starts no [[packages]] entry", e.Error(), e.Line)
			continue
		}
		matched := false
		for _, rf := range pylockRefusals {
			m := rf.re.FindStringSubmatch(e.Msg)
			if m == nil {
				continue
			}
			matched = true
			f := fs[0]
			if e.Line == inlineLine {
				k := slices.IndexFunc(fs, func(f pylockFact) bool { return f.Name != nil && *f.Name == m[1] })
				if k < 0 {
					t.Errorf("refusal %q: the inline packages array has no %q", e.Error(), m[1])
					continue
				}
				f = fs[k]
			}
			if !rf.holds(f, m) {
				t.Errorf("refusal %q: the file's package at line %d is %+v", e.Error(), e.Line, f)
			}
		}
		if !matched {
			t.Errorf("refusal %q: this test does not know how to check its reason", e.Error())
		}
	}
}
