package resolve

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// spec describes a synthetic wheel.
type spec struct {
	name, version string
	tags          []string // default py3-none-any
	requires      []string
	extras        []string
}

// mkWheel writes a small valid wheel into dir and returns its file name.
func mkWheel(t testing.TB, dir string, s spec) string {
	t.Helper()
	b, err := wheelpack.New(wheelpack.Meta{Name: s.name, Version: s.version, Tags: s.tags, RootIsPurelib: true, ModTime: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.ReplaceAll(pyname.Normalize(s.name), "-", "_")
	if err := b.Add(mod+"/__init__.py", 0o644, []byte("VERSION = "+fmt.Sprintf("%q", s.version)+"\n")); err != nil {
		t.Fatal(err)
	}
	md := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.name, s.version)
	for _, e := range s.extras {
		md += "Provides-Extra: " + e + "\n"
	}
	for _, r := range s.requires {
		md += "Requires-Dist: " + r + "\n"
	}
	if err := b.Add(b.DistInfo()+"/METADATA", 0o644, []byte(md)); err != nil {
		t.Fatal(err)
	}
	res, err := b.WriteFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return res.File
}

func reqs(t testing.TB, lines ...string) []Requirement {
	t.Helper()
	var out []Requirement
	for i, l := range lines {
		r, err := ParseRequirement(l)
		if err != nil {
			t.Fatal(err)
		}
		r.From = fmt.Sprintf("requirements.in:%d", i+1)
		out = append(out, r)
	}
	return out
}

// pins renders a result as "name==version ; marker" lines.
func pins(res *Result) []string {
	var out []string
	for _, p := range res.Packages {
		s := p.Name + "==" + p.Version
		if p.Marker != "" {
			s += " ; " + p.Marker
		}
		out = append(out, s)
	}
	return out
}

func linux311() marker.Env {
	return marker.Env{
		"os_name": "posix", "sys_platform": "linux", "platform_machine": "x86_64",
		"platform_python_implementation": "CPython", "platform_release": "6.1", "platform_system": "Linux",
		"platform_version": "#1", "python_version": "3.11", "python_full_version": "3.11.7",
		"implementation_name": "cpython", "implementation_version": "3.11.7",
	}
}

// extrasHouse has a project whose Requires-Dist use extras and markers.
func extrasHouse(t testing.TB) string {
	dir := t.TempDir()
	mkWheel(t, dir, spec{name: "App", version: "1.0", extras: []string{"web", "test"}, requires: []string{
		"base-lib>=1",
		`web-lib ; extra == "web"`,
		`test-lib ; extra == "test"`,
		`old-compat ; python_version < "3.8"`,
		`fast-lib[turbo] ; sys_platform == "linux"`,
		`both ; python_version >= "3.8" and extra == "web"`,
	}})
	mkWheel(t, dir, spec{name: "base_lib", version: "1.2"})
	mkWheel(t, dir, spec{name: "web-lib", version: "2.0"})
	mkWheel(t, dir, spec{name: "test-lib", version: "3.0"})
	mkWheel(t, dir, spec{name: "fast-lib", version: "0.5", extras: []string{"turbo", "slow"}, requires: []string{
		`turbo-engine ; extra == "turbo"`,
		`slow-engine ; extra == "slow"`,
	}})
	mkWheel(t, dir, spec{name: "turbo-engine", version: "9"})
	mkWheel(t, dir, spec{name: "slow-engine", version: "1"})
	mkWheel(t, dir, spec{name: "both", version: "4"})
	mkWheel(t, dir, spec{name: "unrelated", version: "1"})
	return dir
}

// TestExtrasAndMarkers: the requested extras are bound, the markers that
// depend on the target carry over into the pins (or are decided for a
// given target), and what no path needs stays out.
func TestExtrasAndMarkers(t *testing.T) {
	dir := extrasHouse(t)
	res, err := Resolve(Options{Dir: dir, Requirements: reqs(t, "app[web]")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"App==1.0",
		"base_lib==1.2",
		`both==4 ; python_version >= "3.8"`,
		`fast-lib==0.5 ; sys_platform == "linux"`,
		`turbo-engine==9 ; sys_platform == "linux"`,
		"web-lib==2.0",
	}
	if got := pins(res); !slices.Equal(got, want) {
		t.Errorf("universal lock:\n got %q\nwant %q", got, want)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.Contains(n, "left out old-compat") && strings.Contains(n, `python_version < "3.8"`)
	}) {
		t.Errorf("no note about old-compat, needed only on Python < 3.8 and not in the folder: %q", res.Notes)
	}
	for _, p := range res.Packages {
		if p.Name == "turbo-engine" && !slices.Equal(p.RequiredBy, []string{"fast-lib"}) {
			t.Errorf("turbo-engine required by %q", p.RequiredBy)
		}
		if p.Name == "App" && !slices.Equal(p.RequiredBy, []string{"-r requirements.in"}) {
			t.Errorf("App required by %q", p.RequiredBy)
		}
	}

	// For one target, the markers are decided.
	res, err = Resolve(Options{Dir: dir, Requirements: reqs(t, "app[web,test]"), Env: linux311()})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"App==1.0", "base_lib==1.2", "both==4", "fast-lib==0.5", "test-lib==3.0", "turbo-engine==9", "web-lib==2.0"}
	if got := pins(res); !slices.Equal(got, want) {
		t.Errorf("lock for linux 3.11:\n got %q\nwant %q", got, want)
	}
	if slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "old-compat") }) {
		t.Errorf("old-compat is not needed on 3.11, yet noted: %q", res.Notes)
	}
	win := linux311()
	win["sys_platform"], win["os_name"], win["platform_system"], win["platform_machine"] = "win32", "nt", "Windows", "AMD64"
	res, err = Resolve(Options{Dir: dir, Requirements: reqs(t, "app"), Env: win})
	if err != nil {
		t.Fatal(err)
	}
	if got := pins(res); !slices.Equal(got, []string{"App==1.0", "base_lib==1.2"}) {
		t.Errorf("lock for windows: %q", got)
	}

	// An extra the project does not provide is noted.
	res, err = Resolve(Options{Dir: dir, Requirements: reqs(t, "app[nosuch]")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, `App 1.0 has no extra "nosuch"`) }) {
		t.Errorf("notes %q", res.Notes)
	}
}

func wantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error lacks %q:\n%v", p, err)
		}
	}
}

// TestUnsatisfiable: a requirement the folder cannot meet is an error
// naming it, who asks, and what the folder has.
func TestUnsatisfiable(t *testing.T) {
	dir := t.TempDir()
	mkWheel(t, dir, spec{name: "a", version: "1.0", requires: []string{"b>=2", "missing-dep (>=1.0)"}})
	mkWheel(t, dir, spec{name: "b", version: "1.5"})
	_, err := Resolve(Options{Dir: dir, Requirements: reqs(t, "a")})
	wantError(t, err, dir, "b>=2 (required by a 1.0): the folder has b 1.5 (b-1.5-py3-none-any.whl)",
		"missing-dep>=1.0 (required by a 1.0): no wheel of missing-dep in the folder")
	_, err = Resolve(Options{Dir: dir, Requirements: reqs(t, "b<1")})
	wantError(t, err, "b<1 (requirements.in:1): the folder has b 1.5 (b-1.5-py3-none-any.whl)")
	_, err = Resolve(Options{Dir: dir, Requirements: reqs(t, "nothere")})
	wantError(t, err, "nothere (requirements.in:1): no wheel of nothere in the folder")
	// Every project of the folder: a's needs are checked too.
	_, err = Resolve(Options{Dir: dir})
	wantError(t, err, "b>=2 (required by a 1.0)", "missing-dep")
	if _, err := Resolve(Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no wheels") {
		t.Errorf("empty folder: %v", err)
	}
}

// TestSeveralVersions: several versions of a project with nothing to
// choose between them is an error naming them; a requirement or a
// Requires-Dist that narrows them to one chooses it.
func TestSeveralVersions(t *testing.T) {
	dir := t.TempDir()
	mkWheel(t, dir, spec{name: "six", version: "1.16.0", tags: []string{"py2-none-any", "py3-none-any"}})
	mkWheel(t, dir, spec{name: "six", version: "1.17.0"})
	mkWheel(t, dir, spec{name: "app", version: "1"})
	_, err := Resolve(Options{Dir: dir})
	wantError(t, err, "six: the folder has several versions", "six 1.17.0 (six-1.17.0-py3-none-any.whl)",
		"six 1.16.0 (six-1.16.0-py2.py3-none-any.whl)", "no requirement chooses one")
	_, err = Resolve(Options{Dir: dir, Requirements: reqs(t, "app", "six>=1")})
	wantError(t, err, "six>=1 (requirements.in:2) allows more than one")

	res, err := Resolve(Options{Dir: dir, Requirements: reqs(t, "app", "six<1.17")})
	if err != nil {
		t.Fatal(err)
	}
	if got := pins(res); !slices.Equal(got, []string{"app==1", "six==1.16.0"}) {
		t.Errorf("pins %q", got)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "left out six 1.17.0") }) {
		t.Errorf("notes %q", res.Notes)
	}

	// A Requires-Dist chooses, even when every project is pinned; and the
	// version chosen brings its own requirements.
	dir2 := t.TempDir()
	mkWheel(t, dir2, spec{name: "lib", version: "1.0"})
	mkWheel(t, dir2, spec{name: "lib", version: "2.0", requires: []string{"helper"}})
	mkWheel(t, dir2, spec{name: "helper", version: "1"})
	mkWheel(t, dir2, spec{name: "app", version: "1", requires: []string{"lib>=2"}})
	res, err = Resolve(Options{Dir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	if got := pins(res); !slices.Equal(got, []string{"app==1", "helper==1", "lib==2.0"}) {
		t.Errorf("pins %q", got)
	}
	res, err = Resolve(Options{Dir: dir2, Requirements: reqs(t, "app")})
	if err != nil {
		t.Fatal(err)
	}
	if got := pins(res); !slices.Equal(got, []string{"app==1", "helper==1", "lib==2.0"}) {
		t.Errorf("pins from app: %q", got)
	}
	// Constraints narrow without asking.
	res, err = Resolve(Options{Dir: dir2, Requirements: reqs(t, "helper"), Constraints: reqs(t, "lib<2")})
	if err != nil || !slices.Equal(pins(res), []string{"helper==1"}) {
		t.Errorf("constraint on a project not asked for: %q %v", pins(res), err)
	}
	// A constraint chooses among versions, and is no reason for a pin.
	res, err = Resolve(Options{Dir: dir2, Requirements: reqs(t, "lib", "helper"), Constraints: reqs(t, "lib<2")})
	if err != nil || !slices.Equal(pins(res), []string{"helper==1", "lib==1.0"}) {
		t.Fatalf("constraint choosing: %q %v", pins(res), err)
	}
	if by := res.Packages[1].RequiredBy; !slices.Equal(by, []string{"-r requirements.in"}) {
		t.Errorf("lib required by %q", by)
	}
	_, err = Resolve(Options{Dir: dir2, Requirements: reqs(t, "app"), Constraints: reqs(t, "lib<2")})
	wantError(t, err, "lib>=2 (required by app 1)", "lib<2 (constraint requirements.in:1)", "the folder has lib 2.0")
}

// platformHouse holds wheels for linux x86_64 and aarch64 and Windows.
func platformHouse(t testing.TB) string {
	dir := t.TempDir()
	mkWheel(t, dir, spec{name: "numeric", version: "2.1", tags: []string{"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"}})
	mkWheel(t, dir, spec{name: "numeric", version: "2.1", tags: []string{"cp311-cp311-manylinux_2_17_aarch64"}})
	mkWheel(t, dir, spec{name: "numeric", version: "2.1", tags: []string{"cp311-cp311-win_amd64"}})
	mkWheel(t, dir, spec{name: "linuxonly", version: "1", tags: []string{"cp311-cp311-manylinux_2_28_x86_64"}})
	mkWheel(t, dir, spec{name: "linuxonly", version: "1", tags: []string{"cp311-cp311-musllinux_1_2_aarch64"}})
	mkWheel(t, dir, spec{name: "winonly", version: "306", tags: []string{"cp311-cp311-win_amd64"}})
	mkWheel(t, dir, spec{name: "pure", version: "1"})
	return dir
}

// TestPlatformMarkers: where the wheels are for several platforms, a
// project whose wheels cover only some of them gets a marker naming
// those; each pin lists the hashes of all its wheels.
func TestPlatformMarkers(t *testing.T) {
	res, err := Resolve(Options{Dir: platformHouse(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`linuxonly==1 ; sys_platform == "linux" and (platform_machine == "aarch64" or platform_machine == "x86_64")`,
		"numeric==2.1",
		"pure==1",
		`winonly==306 ; sys_platform == "win32" and platform_machine == "AMD64"`,
	}
	if got := pins(res); !slices.Equal(got, want) {
		t.Errorf("pins:\n got %q\nwant %q", got, want)
	}
	if n := len(res.Packages[1].Wheels); n != 3 {
		t.Errorf("numeric has %d wheels, want 3", n)
	}
	// The lock reader picks the right pins per target.
	var buf bytes.Buffer
	if err := WriteRequirements(&buf, res, nil); err != nil {
		t.Fatal(err)
	}
	lk, err := lock.Parse("requirements.txt", buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	for _, tc := range []struct {
		sys, machine string
		want         []string
	}{
		{"linux", "x86_64", []string{"linuxonly", "numeric", "pure"}},
		{"linux", "aarch64", []string{"linuxonly", "numeric", "pure"}},
		{"win32", "AMD64", []string{"numeric", "pure", "winonly"}},
		{"darwin", "arm64", []string{"numeric", "pure"}},
	} {
		env := linux311()
		env["sys_platform"], env["platform_machine"] = tc.sys, tc.machine
		ps, err := lk.ForEnv(env)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s/%s: %q, want %q", tc.sys, tc.machine, got, tc.want)
		}
	}

	// One platform only: no markers (an install elsewhere fails loudly).
	dir := t.TempDir()
	mkWheel(t, dir, spec{name: "numeric", version: "2.1", tags: []string{"cp311-cp311-manylinux_2_17_x86_64"}})
	mkWheel(t, dir, spec{name: "pure", version: "1"})
	res, err = Resolve(Options{Dir: dir})
	if err != nil || !slices.Equal(pins(res), []string{"numeric==2.1", "pure==1"}) {
		t.Errorf("one platform: %q %v", pins(res), err)
	}
}

// TestWrittenLocksReadBack: both formats parse with pipbake's lock reader
// into the same pins, versions, markers and hashes, and writing is
// reproducible.
func TestWrittenLocksReadBack(t *testing.T) {
	dir := extrasHouse(t)
	res, err := Resolve(Options{Dir: dir, Requirements: reqs(t, "app[web]")})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var txt, toml bytes.Buffer
	if err := WriteRequirements(&txt, res, []string{"generated by a test"}); err != nil {
		t.Fatal(err)
	}
	if err := WritePyLock(&toml, res, out, []string{"generated by a test"}); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"requirements.txt": txt.Bytes(), "pylock.toml": toml.Bytes()} {
		lk, err := lock.Parse(filepath.Join(out, name), data)
		if err != nil {
			t.Fatalf("%s does not read back: %v\n%s", name, err, data)
		}
		if len(lk.Warnings) > 0 {
			t.Errorf("%s: warnings %q", name, lk.Warnings)
		}
		if len(lk.Pins) != len(res.Packages) {
			t.Fatalf("%s: %d pins, want %d", name, len(lk.Pins), len(res.Packages))
		}
		for i, p := range lk.Pins {
			want := res.Packages[i]
			if p.Key() != want.Key() || p.Version != want.Version || p.Marker != want.Marker {
				t.Errorf("%s: pin %d is %s==%s ; %s, want %s==%s ; %s", name, i, p.Name, p.Version, p.Marker, want.Name, want.Version, want.Marker)
			}
			if len(p.SHA256()) != 1 || p.SHA256()[0] != want.Wheels[0].SHA256 {
				t.Errorf("%s: %s hashes %q", name, p.Name, p.SHA256())
			}
			if name == "pylock.toml" {
				if len(p.Wheels) != 1 || p.Wheels[0].Name != want.Wheels[0].File || p.Wheels[0].Size != want.Wheels[0].Size {
					t.Errorf("pylock wheels of %s: %+v", p.Name, p.Wheels)
				} else if got := filepath.Join(out, filepath.FromSlash(p.Wheels[0].Path)); got != want.Wheels[0].Path {
					t.Errorf("pylock path of %s: %s resolves to %s, want %s", p.Name, p.Wheels[0].Path, got, want.Wheels[0].Path)
				}
			}
		}
	}
	if !strings.Contains(toml.String(), "lock-version = \"1.0\"\ncreated-by = \"pipbake\"\n") {
		t.Errorf("pylock.toml head:\n%s", toml.String())
	}
	// Reproducible: the same folder gives the same bytes.
	res2, err := Resolve(Options{Dir: dir, Requirements: reqs(t, "app[web]")})
	if err != nil {
		t.Fatal(err)
	}
	var txt2 bytes.Buffer
	WriteRequirements(&txt2, res2, []string{"generated by a test"})
	if !bytes.Equal(txt.Bytes(), txt2.Bytes()) {
		t.Errorf("two runs differ:\n%s\n---\n%s", txt.String(), txt2.String())
	}
}

// TestHostileFolder: names that are not wheels, bad metadata and a
// symlink to a directory are skipped or refused with the file named.
func TestHostileFolder(t *testing.T) {
	dir := t.TempDir()
	mkWheel(t, dir, spec{name: "good", version: "1"})
	os.WriteFile(filepath.Join(dir, "not-a-wheel.whl"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden-1.0-py3-none-any.whl"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "dir-1.0-py3-none-any.whl"), 0o755)
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644)
	res, err := Resolve(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := pins(res); !slices.Equal(got, []string{"good==1"}) {
		t.Errorf("pins %q", got)
	}
	if len(res.Notes) != 3 {
		t.Errorf("want 3 notes of skipped files, got %q", res.Notes)
	}
	// A corrupt wheel that is needed is an error naming it.
	os.WriteFile(filepath.Join(dir, "broken-1.0-py3-none-any.whl"), []byte("PK not really"), 0o644)
	_, err = Resolve(Options{Dir: dir})
	wantError(t, err, "broken-1.0-py3-none-any.whl")
	// METADATA that disagrees with the file name.
	dir2 := t.TempDir()
	f := mkWheel(t, dir2, spec{name: "liar", version: "1.0"})
	os.Rename(filepath.Join(dir2, f), filepath.Join(dir2, "liar-2.0-py3-none-any.whl"))
	_, err = Resolve(Options{Dir: dir2})
	wantError(t, err, "liar-2.0-py3-none-any.whl")
	// A Requires-Dist that is a URL.
	dir3 := t.TempDir()
	mkWheel(t, dir3, spec{name: "urly", version: "1", requires: []string{"dep @ https://example.com/dep.whl"}})
	_, err = Resolve(Options{Dir: dir3})
	wantError(t, err, "urly-1-py3-none-any.whl", "direct reference")
}

// TestReadRequirementsFile: includes, constraints, continuations and the
// options a wheelhouse ignores; errors name file:line.
func TestReadRequirementsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	write("base.txt", "six>=1.16\n")
	write("constraints.txt", "urllib3<3\n")
	main := write("requirements.in", "# app\n-i https://pypi.org/simple\n-r base.txt\n-c constraints.txt\nrequests[socks] \\\n  >=2.31 ; python_version >= \"3.8\"\nflask==3.1.3 --hash=sha256:00 \\\n  --hash=sha256:11\nclick==8 --hash=sha256:22\n")
	rf, err := ReadRequirementsFile(main)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rf.Requirements {
		got = append(got, r.String()+" @"+filepath.Base(r.From))
	}
	want := []string{"six>=1.16 @base.txt:1", "requests[socks]>=2.31 @requirements.in:5", "flask==3.1.3 @requirements.in:7", "click==8 @requirements.in:9"}
	if !slices.Equal(got, want) {
		t.Errorf("requirements %q, want %q", got, want)
	}
	if len(rf.Constraints) != 1 || rf.Constraints[0].String() != "urllib3<3" {
		t.Errorf("constraints %+v", rf.Constraints)
	}
	if len(rf.Notes) != 2 {
		t.Errorf("want one note for -i and one for the --hash options, got %q", rf.Notes)
	}
	bad := write("bad.in", "ok\n-e .\n./x.whl\nname @ https://x/y.whl\n-r bad.in\n--frobnicate\n")
	_, err = ReadRequirementsFile(bad)
	for _, w := range []string{bad + ":2: editable", bad + ":3: \"./x.whl\" is a path", bad + ":4: \"name @ https://x/y.whl\" is a path or URL", "includes itself", bad + ":6: unknown or unsupported option --frobnicate"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}
