package lock

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
)

func TestPyLockFile(t *testing.T) {
	l := parseTestdata(t, "pylock.toml")
	if l.Format != PyLock || l.RequiresPython != ">=3.9" ||
		!slices.Equal(l.Environments, []string{"sys_platform == 'linux'", "sys_platform == 'win32'"}) {
		t.Errorf("lock = {Format %q, RequiresPython %q, Environments %q}", l.Format, l.RequiresPython, l.Environments)
	}
	if l.IndexURL != "" || l.ExtraIndexURLs != nil || l.Warnings != nil {
		t.Errorf("unexpected requirements options or warnings: %+v", l)
	}
	want := []string{
		"anyio==4.3.0", "attrs==23.2.0", "colorama==0.4.6", "exceptiongroup==1.2.0",
		"numpy==1.26.4", "numpy==2.1.3", "torch==2.2.0+cpu", "internal-tool==0.3.1",
	}
	if got := names(l.Pins); !slices.Equal(got, want) {
		t.Fatalf("pins = %v\nwant %v", got, want)
	}
	// Each pin's Line is its [[packages]] header.
	data, _ := os.ReadFile(filepath.Join("testdata", "pylock.toml"))
	lines := strings.Split(string(data), "\n")
	for i, p := range l.Pins {
		if lines[p.Line-1] != "[[packages]]" || !strings.Contains(lines[p.Line], fmt.Sprintf("%q", p.Name)) {
			t.Errorf("pin %d (%s) Line = %d: %q", i, p.Name, p.Line, lines[p.Line-1])
		}
	}

	anyio := l.Pins[0]
	if anyio.Index != "https://pypi.org/simple" || len(anyio.Wheels) != 1 || anyio.Marker != "" {
		t.Errorf("anyio = %+v", anyio)
	}
	w := anyio.Wheels[0]
	if w.Name != "anyio-4.3.0-py3-none-any.whl" || w.Size != 85584 || w.Path != "" ||
		w.URL != "https://files.pythonhosted.org/packages/14/fd/anyio-4.3.0-py3-none-any.whl" {
		t.Errorf("anyio wheel = %+v", w)
	}
	// The sdist's hash is not part of the pin: only wheels are installed.
	if !slices.Equal(anyio.SHA256(), []string{hash64("pl2")}) {
		t.Errorf("anyio SHA256() = %v, want the wheel's hash only", anyio.SHA256())
	}

	attrs := l.Pins[1]
	if attrs.RequiresPython != ">=3.7" || len(attrs.Wheels) != 1 || attrs.Wheels[0].Name != "attrs-23.2.0-py3-none-any.whl" {
		t.Errorf("attrs = %+v", attrs)
	}
	wantHashes := []Hash{{"sha256", hash64("pl3")}, {"sha512", hash64("pl4") + hash64("pl5")}}
	if !slices.Equal(attrs.Hashes, wantHashes) || !slices.Equal(attrs.Wheels[0].Hashes, wantHashes) {
		t.Errorf("attrs hashes = %v / %v", attrs.Hashes, attrs.Wheels[0].Hashes)
	}

	if c := l.Pins[2]; c.Marker != "sys_platform == 'win32'" {
		t.Errorf("colorama marker = %q", c.Marker)
	}
	numpy := l.Pins[4]
	if len(numpy.Wheels) != 3 || len(numpy.Hashes) != 3 || numpy.Key() != "numpy" {
		t.Errorf("numpy = %+v", numpy)
	}
	if w := numpy.Wheels[1]; w.Name != "numpy-1.26.4-cp311-cp311-win_amd64.whl" || w.Size != 15794138 {
		t.Errorf("numpy wheel 2 = %+v", w)
	}
	if w := l.Pins[6].Wheels[0]; w.Name != "torch-2.2.0+cpu-cp311-cp311-linux_x86_64.whl" || w.Size != 0 {
		t.Errorf("torch wheel = %+v (the name must be URL-decoded)", w)
	}
	local := l.Pins[7]
	if w := local.Wheels[0]; w.Path != "wheelhouse/internal_tool-0.3.1-py3-none-any.whl" || w.URL != "" ||
		w.Name != "internal_tool-0.3.1-py3-none-any.whl" || !slices.Equal(w.Hashes, []Hash{{"sha256", hash64("pl14")}}) {
		t.Errorf("internal-tool wheel = %+v (hash algorithm and digest must be lower-cased)", w)
	}
}

func TestPyLockForEnv(t *testing.T) {
	l := parseTestdata(t, "pylock.toml")
	tests := []struct {
		name, python, platform string
		want                   []string
		err                    string
	}{
		{"linux 3.11", "3.11.9", "linux", []string{
			"anyio==4.3.0", "attrs==23.2.0", "numpy==1.26.4", "torch==2.2.0+cpu", "internal-tool==0.3.1",
		}, ""},
		{"windows 3.10", "3.10.11", "win32", []string{
			"anyio==4.3.0", "attrs==23.2.0", "colorama==0.4.6", "exceptiongroup==1.2.0", "numpy==1.26.4",
			"torch==2.2.0+cpu", "internal-tool==0.3.1",
		}, ""},
		{"linux 3.12", "3.12.4", "linux", []string{
			"anyio==4.3.0", "attrs==23.2.0", "numpy==2.1.3", "torch==2.2.0+cpu", "internal-tool==0.3.1",
		}, ""},
		{"linux 3.8", "3.8.10", "linux", nil,
			`testdata/pylock.toml:5: the lock's requires-python is not met: requires-python ">=3.9" excludes Python 3.8.10`},
		{"macOS", "3.11.9", "darwin", nil,
			`testdata/pylock.toml:6: the lock does not support this environment: none of its environments (sys_platform == 'linux'; sys_platform == 'win32') matches`},
		{"macOS 3.8", "3.8.10", "darwin", nil,
			"testdata/pylock.toml:5: the lock's requires-python is not met: requires-python \">=3.9\" excludes Python 3.8.10\n" +
				"testdata/pylock.toml:6: the lock does not support this environment: none of its environments (sys_platform == 'linux'; sys_platform == 'win32') matches"},
	}
	for _, tt := range tests {
		pins, err := l.ForEnv(env(tt.python, tt.platform))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: error = %v, want %s", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := names(pins); !slices.Equal(got, tt.want) {
			t.Errorf("%s installs %v\nwant %v", tt.name, got, tt.want)
		}
	}
}

// pylockDoc builds a small pylock.toml around the given [[packages]] text.
func pylockDoc(packages string) string {
	return "lock-version = \"1.0\"\ncreated-by = \"test\"\n\n" + packages
}

func wheel(name string) string {
	return fmt.Sprintf(`wheels = [{ url = "https://files.example/%s", hashes = { sha256 = "%s" } }]`, name, hash64(name))
}

func TestPyLockSdistOnlyRefused(t *testing.T) {
	// The realistic file plus an sdist-only package and a few other sources.
	data, err := os.ReadFile(filepath.Join("testdata", "pylock.toml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	cut := strings.Index(text, "[tool.uv]")
	text = text[:cut] + `[[packages]]
name = "pyyaml"
version = "6.0.1"
sdist = { url = "https://files.pythonhosted.org/packages/cd/e5/PyYAML-6.0.1.tar.gz", size = 125201, hashes = { sha256 = "` + hash64("yaml") + `" } }

[[packages]]
name = "mylib"
directory = { path = "./src/mylib", editable = false }

[[packages]]
name = "forked"
version = "1.0"
vcs = { type = "git", url = "https://github.com/x/forked.git", commit-id = "` + hash64("c")[:40] + `" }

` + text[cut:]
	_, err = Parse("pylock.toml", []byte(text))
	errs := lockErrors(t, err)
	first := strings.Count(text[:cut], "\n") + 1 // line of the first added [[packages]]
	want := []string{
		fmt.Sprintf(`pylock.toml:%d: package "pyyaml" has no wheels, only sdist; pipbake installs wheels only (build a wheel and lock it)`, first),
		fmt.Sprintf(`pylock.toml:%d: package "mylib" has no version; pipbake installs exactly pinned versions only`, first+5),
		fmt.Sprintf(`pylock.toml:%d: package "mylib" has no wheels, only directory; pipbake installs wheels only (build a wheel and lock it)`, first+5),
		fmt.Sprintf(`pylock.toml:%d: package "forked" has no wheels, only vcs; pipbake installs wheels only (build a wheel and lock it)`, first+9),
	}

	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPyLockRefusals(t *testing.T) {
	ok := wheel("pkg-1.0-py3-none-any.whl")
	tests := []struct {
		name string
		data string
		line int
		msg  string
	}{
		{"sdist only", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nsdist = { url = \"https://x/pkg-1.0.tar.gz\", hashes = { sha256 = \"" + hash64("s") + "\" } }\n"),
			4, `package "pkg" has no wheels, only sdist; pipbake installs wheels only (build a wheel and lock it)`},
		{"archive only", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\narchive = { url = \"https://x/pkg.zip\", hashes = { sha256 = \"" + hash64("s") + "\" } }\n"),
			4, `package "pkg" has no wheels, only archive; pipbake installs wheels only (build a wheel and lock it)`},
		{"no source", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n"),
			4, `package "pkg" has no wheels; pipbake installs wheels only`},
		{"empty wheels", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = []\n"),
			4, `package "pkg" has no wheels; pipbake installs wheels only`},
		{"wheels and vcs", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n" + ok + "\nvcs = { type = \"git\", url = \"u\", commit-id = \"c\" }\n"),
			4, `package "pkg" lists wheels and a vcs source, which PEP 751 makes mutually exclusive`},
		{"missing version", pylockDoc("\n[[packages]]\nname = \"pkg\"\n" + ok + "\n"),
			5, `package "pkg" has no version; pipbake installs exactly pinned versions only`},
		{"invalid version", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0-beta-x\"\n" + ok + "\n"),
			4, `package "pkg" has an invalid version: invalid PEP 440 version "1.0-beta-x"`},
		{"version not a string", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = 1.0\n" + ok + "\n"),
			4, `package "pkg": version must be a string, not a float`},
		{"missing name", pylockDoc("[[packages]]\nversion = \"1.0\"\n" + ok + "\n"),
			4, `packages[0] has no name`},
		{"invalid name", pylockDoc("[[packages]]\nname = \"-pkg\"\nversion = \"1.0\"\n" + ok + "\n"),
			4, `invalid package name "-pkg"`},
		{"wheel without hashes", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = [{ url = \"https://x/pkg-1.0-py3-none-any.whl\" }]\n"),
			4, `wheel "pkg-1.0-py3-none-any.whl" of package "pkg" has no hashes`},
		{"wheel with empty hashes", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = [{ url = \"https://x/pkg-1.0-py3-none-any.whl\", hashes = {} }]\n"),
			4, `wheel "pkg-1.0-py3-none-any.whl" of package "pkg" has an empty hashes table`},
		{"wheel without sha256", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = [{ url = \"https://x/pkg-1.0-py3-none-any.whl\", hashes = { sha384 = \"" + strings.Repeat("ab", 48) + "\" } }]\n"),
			4, `wheel "pkg-1.0-py3-none-any.whl" of package "pkg" has no sha256 hash; pipbake verifies wheels by sha256`},
		{"malformed hash", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = [{ url = \"https://x/pkg-1.0-py3-none-any.whl\", hashes = { sha256 = \"abc\" } }]\n"),
			4, `wheel "pkg-1.0-py3-none-any.whl" of package "pkg" has a malformed hash: sha256 digest "abc" has 3 hex digits, want 64`},
		{"wheel without url or path", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = [{ name = \"pkg-1.0-py3-none-any.whl\", hashes = { sha256 = \"" + hash64("w") + "\" } }]\n"),
			4, `wheel 1 of package "pkg" has neither url nor path`},
		{"not a wheel", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n" + wheel("pkg-1.0.tar.gz") + "\n"),
			4, `wheel "pkg-1.0.tar.gz" of package "pkg": is not a .whl file`},
		{"wheel for another project", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n" + wheel("other-1.0-py3-none-any.whl") + "\n"),
			4, `wheel "other-1.0-py3-none-any.whl" of package "pkg": is for project "other", not "pkg"`},
		{"wheel for another version", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n" + wheel("pkg-1.1-py3-none-any.whl") + "\n"),
			4, `wheel "pkg-1.1-py3-none-any.whl" of package "pkg": is version 1.1, but the package is pinned to 1.0`},
		{"malformed wheel name", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n" + wheel("pkg-1.0.whl") + "\n"),
			4, `wheel "pkg-1.0.whl" of package "pkg": is not a valid wheel file name`},
		{"negative size", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nwheels = [{ url = \"https://x/pkg-1.0-py3-none-any.whl\", size = -1, hashes = { sha256 = \"" + hash64("w") + "\" } }]\n"),
			4, `wheel "pkg-1.0-py3-none-any.whl" of package "pkg": size must be a non-negative integer`},
		{"bad marker", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nmarker = \"python_version <\"\n" + ok + "\n"),
			4, `package "pkg" has an invalid marker: invalid marker 'python_version <': expected a variable or a quoted string, found end of marker at position 17`},
		{"legacy extra marker", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nmarker = \"extra == 'socks'\"\n" + ok + "\n"),
			4, `package "pkg" has a marker using the extra variable, which PEP 751 forbids in lock files (use "name" in extras)`},
		{"bad requires-python", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nrequires-python = \"3.8+\"\n" + ok + "\n"),
			4, `package "pkg" has an invalid requires-python: invalid PEP 440 version specifier "3.8+"`},
		{"duplicate", pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\n" + ok + "\n\n[[packages]]\nname = \"PKG\"\nversion = \"1.0\"\nmarker = \"os_name == 'nt'\"\n" + ok + "\n"),
			9, `package "PKG" is pinned twice (lines 4 and 9) and not every pin has a marker; duplicate pins need mutually exclusive markers`},
		{"missing lock-version", "created-by = \"x\"\npackages = []\n",
			0, `missing lock-version (a pylock.toml must declare lock-version = "1.0")`},
		{"lock-version 2", "# new\nlock-version = \"2.0\"\ncreated-by = \"x\"\npackages = []\n",
			2, `lock-version "2.0" is not supported: pipbake reads lock-version 1.x`},
		{"lock-version number", "lock-version = 1.0\ncreated-by = \"x\"\npackages = []\n",
			1, `the lock: lock-version must be a string, not a float`},
		{"lock-version garbage", "lock-version = \"one\"\ncreated-by = \"x\"\npackages = []\n",
			1, `invalid lock-version "one": want MAJOR.MINOR such as "1.0"`},
		{"missing created-by", "lock-version = \"1.0\"\npackages = []\n",
			0, `missing created-by (required by PEP 751)`},
		{"missing packages", "lock-version = \"1.0\"\ncreated-by = \"x\"\n",
			0, `missing [[packages]] (required by PEP 751)`},
		{"packages not tables", "lock-version = \"1.0\"\ncreated-by = \"x\"\npackages = [1, 2]\n",
			3, `packages must be an array of tables`},
		{"trailing comma in requires-python is valid", "lock-version = \"1.0\"\ncreated-by = \"x\"\nrequires-python = \">=3.8,\"\npackages = []\n",
			0, ""},
		{"invalid lock requires-python", "lock-version = \"1.0\"\ncreated-by = \"x\"\nrequires-python = \"3.8\"\npackages = []\n",
			3, `invalid requires-python: invalid PEP 440 version specifier "3.8"`},
		{"bad environments", "lock-version = \"1.0\"\ncreated-by = \"x\"\nenvironments = [\"os_name ==\"]\npackages = []\n",
			3, `invalid marker in environments: invalid marker 'os_name ==': expected a variable or a quoted string, found end of marker at position 11`},
		{"environments not strings", "lock-version = \"1.0\"\ncreated-by = \"x\"\nenvironments = [1]\npackages = []\n",
			3, `the lock: environments must be an array of strings`},
		{"invalid TOML", "lock-version = \"1.0\"\ncreated-by = \"x\"\n\n[[packages]]\nname = \"pkg\n",
			5, `invalid TOML: `},
	}
	for _, tt := range tests {
		_, err := Parse("pylock.toml", []byte(tt.data))
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tt.name, err)
			}
			continue
		}
		errs := lockErrors(t, err)
		if len(errs) != 1 {
			t.Errorf("%s: got %d errors, want 1: %v", tt.name, len(errs), err)
			continue
		}
		want := "pylock.toml: " + tt.msg
		if tt.line > 0 {
			want = fmt.Sprintf("pylock.toml:%d: %s", tt.line, tt.msg)
		}
		if got := errs[0].Error(); errs[0].Line != tt.line || !strings.HasPrefix(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, want)
		}
	}
}

func TestPyLockVersionsAndWarnings(t *testing.T) {
	pkg := "[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nfuture-key = 1\n" + wheel("pkg-1.0-py3-none-any.whl") + "\n"
	// A newer minor version is accepted; unknown keys become warnings.
	l, err := Parse("pylock.toml", []byte("lock-version = \"1.3\"\ncreated-by = \"x\"\nnew-top = true\n\n"+pkg))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`pylock.toml: the top level has key "new-top", which lock-version 1.0 does not define (the file is lock-version 1.3; pipbake reads 1.0 and ignores it)`,
		`pylock.toml:5: package "pkg" has key "future-key", which lock-version 1.0 does not define (the file is lock-version 1.3; pipbake reads 1.0 and ignores it)`,
	}
	if !slices.Equal(l.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", l.Warnings, want)
	}
	if len(l.Pins) != 1 {
		t.Errorf("pins = %v", names(l.Pins))
	}
	// Known but unused keys produce no warnings.
	l, err = Parse("pylock.toml", []byte(pylockDoc(
		"extras = []\ndependency-groups = [\"dev\"]\ndefault-groups = [\"default\"]\n[tool.x]\ny = 1\n"+
			"[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\ndependencies = [{name = \"b\"}]\n"+wheel("pkg-1.0-py3-none-any.whl")+
			"\n[packages.tool.x]\nz = 2\n[[packages.attestation-identities]]\nkind = \"GitHub\"\n")))
	if err != nil || l.Warnings != nil {
		t.Errorf("known keys: err %v, warnings %q", err, l.Warnings)
	}
	if err == nil && !slices.Equal(l.DefaultGroups, []string{"default"}) {
		t.Errorf("DefaultGroups = %q", l.DefaultGroups)
	}
	// lock-version "1" means 1.0.
	if _, err := Parse("pylock.toml", []byte("lock-version = \"1\"\ncreated-by = \"x\"\npackages = []\n")); err != nil {
		t.Errorf("lock-version \"1\": %v", err)
	}
}

func TestPyLockDependencyGroups(t *testing.T) {
	data := pylockDoc("default-groups = [\"default\"]\n\n" +
		"[[packages]]\nname = \"flask\"\nversion = \"3.0.2\"\nmarker = \"'default' in dependency_groups\"\n" + wheel("flask-3.0.2-py3-none-any.whl") + "\n\n" +
		"[[packages]]\nname = \"pytest\"\nversion = \"8.0.1\"\nmarker = \"'dev' in dependency_groups\"\n" + wheel("pytest-8.0.1-py3-none-any.whl") + "\n\n" +
		"[[packages]]\nname = \"pysocks\"\nversion = \"1.7.1\"\nmarker = \"'socks' in extras\"\n" + wheel("PySocks-1.7.1-py3-none-any.whl") + "\n")
	l, err := Parse("pylock.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		groups, extras string // "-" leaves the key out of the environment
		want           []string
	}{
		{"-", "-", []string{"flask==3.0.2"}},
		{"default,dev", "-", []string{"flask==3.0.2", "pytest==8.0.1"}},
		{"dev", "socks", []string{"pytest==8.0.1", "pysocks==1.7.1"}},
		{"", "", nil},
	}
	for _, tt := range tests {
		e := env("3.11.9", "linux")
		if tt.groups != "-" {
			e["dependency_groups"] = tt.groups
		}
		if tt.extras != "-" {
			e["extras"] = tt.extras
		}
		pins, err := l.ForEnv(e)
		if err != nil {
			t.Errorf("groups %q extras %q: %v", tt.groups, tt.extras, err)
			continue
		}
		if got := names(pins); !slices.Equal(got, tt.want) {
			t.Errorf("groups %q extras %q: %v, want %v", tt.groups, tt.extras, got, tt.want)
		}
		if _, set := e["dependency_groups"]; tt.groups == "-" && set {
			t.Error("ForEnv modified the caller's environment")
		}
	}
}

func TestPyLockPackageRequiresPython(t *testing.T) {
	data := pylockDoc("[[packages]]\nname = \"pkg\"\nversion = \"1.0\"\nrequires-python = \">=3.10\"\n" + wheel("pkg-1.0-py3-none-any.whl") + "\n")
	l, err := Parse("pylock.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ForEnv(env("3.10.0", "linux")); err != nil {
		t.Errorf("3.10: %v", err)
	}
	_, err = l.ForEnv(env("3.9.18", "linux"))
	want := `pylock.toml:4: package "pkg": requires-python ">=3.10" excludes Python 3.9.18`
	if err == nil || err.Error() != want {
		t.Errorf("3.9: error = %v, want %s", err, want)
	}
}

func TestScanTOML(t *testing.T) {
	text := strings.Join([]string{
		`lock-version = "1.0"`,      // 1
		`"created-by" = 'x'`,        // 2
		`notes = """`,               // 3
		`[[packages]]`,              // 4 inside a string
		`"""`,                       // 5
		`  [[ packages ]]  # first`, // 6
		`name = "a"`,                // 7
		`[[packages.wheels]]`,       // 8
		`[[packages]]`,              // 9
		`requires-python = "x"`,     // 10: not top level
	}, "\n")
	got := scanTOML(text)
	if !slices.Equal(got.packages, []int{6, 9}) {
		t.Errorf("packages = %v, want [6 9]", got.packages)
	}
	if got.key("lock-version") != 1 || got.key("created-by") != 2 || got.key("notes") != 3 || got.key("requires-python") != 0 {
		t.Errorf("keys = %v", got.keys)
	}
}

func TestPyLockInlinePackages(t *testing.T) {
	// packages written as an inline array: lines fall back to the key's line.
	data := "lock-version = \"1.0\"\ncreated-by = \"x\"\npackages = [\n  { name = \"pkg\", version = \"1.0\", " +
		wheel("pkg-1.0-py3-none-any.whl") + " },\n  { name = \"b\" },\n]\n"
	_, err := Parse("pylock.toml", []byte(data))
	errs := lockErrors(t, err)
	if len(errs) != 2 || errs[0].Line != 3 || !strings.Contains(errs[0].Msg, `package "b" has no version`) {
		t.Errorf("errors = %v", err)
	}
}

func TestCheckRequiresPython(t *testing.T) {
	tests := []struct {
		spec string
		env  marker.Env
		err  string // "" for success
	}{
		{">=3.9", marker.Env{"python_full_version": "3.9.0"}, ""},
		{">=3.9", marker.Env{"python_full_version": "3.13.0rc2"}, ""},
		{">=3.9", marker.Env{"python_version": "3.10"}, ""}, // falls back to python_version
		{"<3.9", marker.Env{"python_full_version": "3.9.0", "python_version": "3.8"}, `requires-python "<3.9" excludes Python 3.9.0`},
		{">=3.9", marker.Env{}, "the environment has no python_full_version"},
		{">=3.9", marker.Env{"python_full_version": "3.11.4+"}, `checking requires-python ">=3.9": invalid PEP 440 version "3.11.4+"`},
		{"3.9", marker.Env{"python_full_version": "3.9.0"}, `invalid PEP 440 version specifier "3.9"`},
	}
	for _, tt := range tests {
		err := checkRequiresPython(tt.spec, tt.env)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("checkRequiresPython(%q, %v) = %v", tt.spec, tt.env, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("checkRequiresPython(%q, %v) = %v, want %q", tt.spec, tt.env, err, tt.err)
		}
	}
}
