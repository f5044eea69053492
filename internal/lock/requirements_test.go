package lock

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func parseTestdata(t *testing.T, name string) *Lock {
	t.Helper()
	l, err := ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ParseFile(%s): %v", name, err)
	}
	return l
}

func findPin(t *testing.T, pins []Pin, name string) Pin {
	t.Helper()
	for _, p := range pins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no pin named %q in %v", name, names(pins))
	return Pin{}
}

func TestPipCompileOutput(t *testing.T) {
	l := parseTestdata(t, "pip-compile.txt")
	if l.Format != Requirements {
		t.Errorf("Format = %q", l.Format)
	}
	if l.IndexURL != "https://pypi.org/simple" ||
		!slices.Equal(l.ExtraIndexURLs, []string{"https://download.pytorch.org/whl/cpu"}) ||
		!slices.Equal(l.TrustedHosts, []string{"download.pytorch.org"}) || l.FindLinks != nil {
		t.Errorf("options = index %q, extra %v, trusted %v, find-links %v", l.IndexURL, l.ExtraIndexURLs, l.TrustedHosts, l.FindLinks)
	}
	want := []string{
		"blinker==1.7.0", "certifi==2024.2.2", "charset-normalizer==3.3.2", "click==8.1.7",
		"colorama==0.4.6", "exceptiongroup==1.2.0", "flask==3.0.2", "idna==3.6",
		"iniconfig==2.0.0", "itsdangerous==2.1.2", "jinja2==3.1.3", "markupsafe==2.1.5",
		"packaging==23.2", "pluggy==1.4.0", "pysocks==1.7.1", "pytest==8.0.1",
		"requests==2.31.0", "tomli==2.0.1", "torch==2.2.0+cpu", "urllib3==2.2.1",
		"werkzeug==3.0.1", "setuptools==69.1.0",
	}
	if got := names(l.Pins); !slices.Equal(got, want) {
		t.Fatalf("pins = %v\nwant %v", got, want)
	}

	// Lines refer to the first physical line of each requirement.
	data, _ := os.ReadFile(filepath.Join("testdata", "pip-compile.txt"))
	lines := strings.Split(string(data), "\n")
	for _, p := range l.Pins {
		if !strings.HasPrefix(lines[p.Line-1], p.Name) {
			t.Errorf("%s: Line %d is %q", p.Name, p.Line, lines[p.Line-1])
		}
	}

	charset := findPin(t, l.Pins, "charset-normalizer")
	if charset.Line != 19 || len(charset.Hashes) != 3 || charset.Marker != "" || charset.Extras != nil {
		t.Errorf("charset-normalizer = %+v", charset)
	}
	if got := charset.SHA256(); len(got) != 3 || got[0] != "85ca6c5027b432a394b99c175071b85a3a6951b34b975b3ea4da2ff2db8f3632" {
		t.Errorf("charset-normalizer SHA256() = %v", got)
	}
	colorama := findPin(t, l.Pins, "colorama")
	if colorama.Marker != `sys_platform == "win32"` {
		t.Errorf("colorama marker = %q", colorama.Marker)
	}
	requests := findPin(t, l.Pins, "requests")
	if !slices.Equal(requests.Extras, []string{"socks"}) || requests.Version != "2.31.0" || requests.Key() != "requests" {
		t.Errorf("requests = %+v", requests)
	}
	if torch := findPin(t, l.Pins, "torch"); torch.Version != "2.2.0+cpu" || len(torch.Hashes) != 1 {
		t.Errorf("torch = %+v", torch)
	}
	for _, p := range l.Pins {
		if p.Wheels != nil || p.Index != "" || p.RequiresPython != "" {
			t.Errorf("%s has pylock-only fields set: %+v", p.Name, p)
		}
	}

	linux311, err := l.ForEnv(env("3.11.9", "linux"))
	if err != nil {
		t.Fatal(err)
	}
	for _, skipped := range []string{"colorama==0.4.6", "exceptiongroup==1.2.0", "tomli==2.0.1"} {
		if slices.Contains(names(linux311), skipped) {
			t.Errorf("linux 3.11 should not install %s", skipped)
		}
	}
	if len(linux311) != len(want)-3 {
		t.Errorf("linux 3.11 installs %d pins, want %d", len(linux311), len(want)-3)
	}
	win38, err := l.ForEnv(env("3.8.10", "win32"))
	if err != nil {
		t.Fatal(err)
	}
	if len(win38) != len(want) {
		t.Errorf("windows 3.8 installs %v, want all %d pins", names(win38), len(want))
	}
	linux38, err := l.ForEnv(env("3.8.10", "linux"))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(linux38); !slices.Contains(got, "tomli==2.0.1") || slices.Contains(got, "colorama==0.4.6") {
		t.Errorf("linux 3.8 installs %v", got)
	}
}

func TestUVOutput(t *testing.T) {
	l := parseTestdata(t, "uv.txt")
	if l.IndexURL != "https://pypi.org/simple" || l.ExtraIndexURLs != nil {
		t.Errorf("IndexURL = %q, extra = %v", l.IndexURL, l.ExtraIndexURLs)
	}
	if len(l.Pins) != 12 {
		t.Fatalf("got %d pins: %v", len(l.Pins), names(l.Pins))
	}
	pywin := findPin(t, l.Pins, "pywin32")
	if pywin.Marker != "sys_platform == 'win32' and platform_python_implementation != 'PyPy'" || pywin.Line != 47 || pywin.Version != "306" {
		t.Errorf("pywin32 = %+v", pywin)
	}

	tests := []struct {
		env  string
		got  func() ([]Pin, error)
		want []string
	}{
		{"linux 3.11", func() ([]Pin, error) { return l.ForEnv(env("3.11.9", "linux")) }, []string{
			"anyio==4.3.0", "certifi==2024.2.2", "h11==0.14.0", "httpcore==1.0.4", "httpx==0.27.0",
			"idna==3.6", "numpy==1.26.4", "sniffio==1.3.1",
		}},
		{"linux 3.8", func() ([]Pin, error) { return l.ForEnv(env("3.8.10", "linux")) }, []string{
			"anyio==4.3.0", "certifi==2024.2.2", "exceptiongroup==1.2.0", "h11==0.14.0", "httpcore==1.0.4",
			"httpx==0.27.0", "idna==3.6", "numpy==1.24.4", "sniffio==1.3.1", "typing-extensions==4.10.0",
		}},
		{"windows 3.11", func() ([]Pin, error) { return l.ForEnv(env("3.11.9", "win32")) }, []string{
			"anyio==4.3.0", "certifi==2024.2.2", "h11==0.14.0", "httpcore==1.0.4", "httpx==0.27.0",
			"idna==3.6", "numpy==1.26.4", "pywin32==306", "sniffio==1.3.1",
		}},
	}
	for _, tt := range tests {
		pins, err := tt.got()
		if err != nil {
			t.Errorf("%s: %v", tt.env, err)
			continue
		}
		if got := names(pins); !slices.Equal(got, tt.want) {
			t.Errorf("%s installs %v\nwant %v", tt.env, got, tt.want)
		}
	}
}

func TestRequirementsSyntax(t *testing.T) {
	h1, h2, h3 := hash64("1"), hash64("2"), hash64("3")
	tests := []struct {
		name, data string
		want       []Pin
	}{
		{"single line with hash", "six==1.16.0 --hash=sha256:" + h1 + "\n",
			[]Pin{{Name: "six", Version: "1.16.0", Line: 1, Hashes: []Hash{{"sha256", h1}}}}},
		{"space-separated --hash, CRLF, upper-case digest", "six==1.16.0 --hash sha256:" + strings.ToUpper(h1) + "\r\n",
			[]Pin{{Name: "six", Version: "1.16.0", Line: 1, Hashes: []Hash{{"sha256", h1}}}}},
		{"continuations, trailing comment, several algorithms",
			"# header\n\nSix == 1.16.0 \\\n  --hash=sha256:" + h1 + " \\\n\t--hash=sha512:" + h2 + h3 + "  # pinned\n",
			[]Pin{{Name: "Six", Version: "1.16.0", Line: 3, Hashes: []Hash{{"sha256", h1}, {"sha512", h2 + h3}}}}},
		{"duplicate hashes are kept once", "six==1.16.0 --hash=sha256:" + h1 + " --hash=sha256:" + h1 + "\n",
			[]Pin{{Name: "six", Version: "1.16.0", Line: 1, Hashes: []Hash{{"sha256", h1}}}}},
		{"marker without spaces, extras with spaces", "requests[ socks , security ]==2.31.0;python_version<\"3.12\" --hash=sha256:" + h1,
			[]Pin{{Name: "requests", Version: "2.31.0", Line: 1, Extras: []string{"socks", "security"}, Marker: `python_version<"3.12"`, Hashes: []Hash{{"sha256", h1}}}}},
		{"parenthesized version", "six (==1.16.0) --hash=sha256:" + h1,
			[]Pin{{Name: "six", Version: "1.16.0", Line: 1, Hashes: []Hash{{"sha256", h1}}}}},
		{"# inside a word is not a comment", "# a\n#b\nsix==1.16.0 \\\n    --hash=sha256:" + h1 + "\n    # via\n    #   x\n",
			[]Pin{{Name: "six", Version: "1.16.0", Line: 3, Hashes: []Hash{{"sha256", h1}}}}},
		{"continuation at end of file", "six==1.16.0 \\\n --hash=sha256:" + h1 + " \\",
			[]Pin{{Name: "six", Version: "1.16.0", Line: 1, Hashes: []Hash{{"sha256", h1}}}}},
		{"different markers may repeat a package",
			"six==1.16.0 ; python_version >= '3.8' --hash=sha256:" + h1 + "\nsix==1.15.0 ; python_version < '3.8' --hash=sha256:" + h2 + "\n",
			[]Pin{
				{Name: "six", Version: "1.16.0", Line: 1, Marker: "python_version >= '3.8'", Hashes: []Hash{{"sha256", h1}}},
				{Name: "six", Version: "1.15.0", Line: 2, Marker: "python_version < '3.8'", Hashes: []Hash{{"sha256", h2}}},
			}},
		{"options are accepted", "--require-hashes\n--prefer-binary\n--pre\n--no-binary :all: --only-binary=numpy\nsix==1.16.0 --hash=sha256:" + h1,
			[]Pin{{Name: "six", Version: "1.16.0", Line: 5, Hashes: []Hash{{"sha256", h1}}}}},
		{"empty file", "", nil},
		{"comments only", "# nothing\n   \n\t# here\n", nil},
		{"BOM", "\ufeffsix==1.16.0 --hash=sha256:" + h1,
			[]Pin{{Name: "six", Version: "1.16.0", Line: 1, Hashes: []Hash{{"sha256", h1}}}}},
	}
	for _, tt := range tests {
		l, err := Parse("requirements.txt", []byte(tt.data))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(l.Pins, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, l.Pins, tt.want)
		}
	}
}

func TestRequirementsOptions(t *testing.T) {
	data := "-i https://mirror.example/simple\n" +
		"--extra-index-url=https://a.example/simple --extra-index-url https://b.example/simple\n" +
		"-f ./wheels\n--find-links=https://c.example/links\n-fhttps://d.example\n" +
		"--trusted-host a.example\n--trusted-host=b.example\n" +
		"--index-url https://mirror.example/simple\n" // repeating the same index is fine
	l, err := Parse("r.txt", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if l.IndexURL != "https://mirror.example/simple" ||
		!slices.Equal(l.ExtraIndexURLs, []string{"https://a.example/simple", "https://b.example/simple"}) ||
		!slices.Equal(l.FindLinks, []string{"./wheels", "https://c.example/links", "https://d.example"}) ||
		!slices.Equal(l.TrustedHosts, []string{"a.example", "b.example"}) {
		t.Errorf("got %+v", l)
	}
}

func TestRequirementsRefusals(t *testing.T) {
	h := hash64("x")
	ok := " --hash=sha256:" + h
	tests := []struct {
		name string
		data string
		line int
		msg  string // the expected message after "api.txt:LINE: "
	}{
		{"range", "# c\nflask>=2" + ok, 2, `requirement "flask>=2" is not pinned with ==`},
		{"no version", "flask" + ok, 1, `requirement "flask" is not pinned with ==`},
		{"two clauses", "flask==2.0,!=2.1" + ok, 1, `requirement "flask==2.0,!=2.1" is not pinned with ==`},
		{"compatible release", "flask~=2.0" + ok, 1, `requirement "flask~=2.0" is not pinned with ==`},
		{"arbitrary equality", "flask===2.0" + ok, 1, `requirement "flask===2.0" is not pinned with ==`},
		{"wildcard", "flask==2.*" + ok, 1, `requirement "flask==2.*" pins a wildcard; pin one exact version`},
		{"invalid version", "flask==two" + ok, 1, `invalid version in requirement "flask==two": invalid PEP 440 version specifier "==two"`},
		{"no hashes", "a==1" + ok + "\n\nflask==3.0.2\n", 3, `requirement "flask==3.0.2" has no --hash; pipbake needs hashes for every package (generate the lock with --generate-hashes)`},
		{"no sha256", "flask==3.0.2 --hash=sha512:" + h + h, 1, `requirement "flask==3.0.2" has no sha256 --hash; pipbake verifies wheels by sha256`},
		{"hash without algorithm", "flask==3.0.2 --hash=" + h, 1, `malformed --hash for "flask": "` + h + `" is not <algorithm>:<hex digest>`},
		{"weak hash algorithm", "flask==3.0.2 --hash=md5:0123456789abcdef0123456789abcdef", 1, `malformed --hash for "flask": algorithm "md5" is not one of sha256, sha384, sha512`},
		{"short digest", "flask==3.0.2 --hash=sha256:abc123", 1, `malformed --hash for "flask": sha256 digest "abc123" has 6 hex digits, want 64`},
		{"non-hex digest", "flask==3.0.2 --hash=sha256:" + strings.Repeat("z", 64), 1, `malformed --hash for "flask": sha256 digest "` + strings.Repeat("z", 64) + `" is not hexadecimal`},
		{"--hash with no value", "flask==3.0.2 --hash", 1, `malformed --hash for "flask": "" is not <algorithm>:<hex digest>`},
		{"-r include", "a==1" + ok + "\n-r base.txt\n", 2, `-r base.txt: includes are not supported in a lock file; flatten it into a single file (pip-compile or uv pip compile does this)`},
		{"--requirement include", "--requirement=base.txt", 1, `--requirement base.txt: includes are not supported in a lock file; flatten it into a single file (pip-compile or uv pip compile does this)`},
		{"-c constraint", "-c constraints.txt", 1, `-c constraints.txt: includes are not supported in a lock file; flatten it into a single file (pip-compile or uv pip compile does this)`},
		{"editable", "-e ./src/mypkg", 1, `editable requirement -e ./src/mypkg is not supported; pipbake installs pinned wheels only`},
		{"editable long", "--editable=git+https://github.com/x/y#egg=y", 1, `editable requirement --editable git+https://github.com/x/y#egg=y is not supported; pipbake installs pinned wheels only`},
		{"direct URL", "pkg @ https://example.com/pkg-1.0-py3-none-any.whl" + ok, 1, `requirement "pkg @ https://example.com/pkg-1.0-py3-none-any.whl" is a URL or path; pipbake installs pinned packages from an index only`},
		{"direct file URL", "pkg@file:///wheels/pkg.whl" + ok, 1, `requirement "pkg@file:///wheels/pkg.whl" is a URL or path; pipbake installs pinned packages from an index only`},
		{"direct reference without scheme", "pkg @ wheels" + ok, 1, `requirement "pkg @ wheels" is a direct URL reference; pipbake installs pinned packages from an index only`},
		{"relative path", "./dir" + ok, 1, `requirement "./dir" is a URL or path; pipbake installs pinned packages from an index only`},
		{"absolute path", "/srv/wheels/pkg-1.0-py3-none-any.whl", 1, `requirement "/srv/wheels/pkg-1.0-py3-none-any.whl" is a URL or path; pipbake installs pinned packages from an index only`},
		{"windows path", `C:\wheels\pkg.whl`, 1, `requirement "C:\\wheels\\pkg.whl" is a URL or path; pipbake installs pinned packages from an index only`},
		{"bare archive", "pkg-1.0.tar.gz", 1, `requirement "pkg-1.0.tar.gz" is a URL or path; pipbake installs pinned packages from an index only`},
		{"vcs", "git+https://github.com/x/y@v1#egg=y", 1, `requirement "git+https://github.com/x/y@v1#egg=y" is a URL or path; pipbake installs pinned packages from an index only`},
		{"unknown option", "--use-feature=truststore", 1, `unknown or unsupported option --use-feature`},
		{"unknown short option", "-x", 1, `unknown or unsupported option -x`},
		{"option missing value", "--index-url", 1, `option --index-url needs a value`},
		{"option with stray word", "--pre flask==1", 1, `unexpected "flask==1" after options`},
		{"flag with value", "--pre=yes", 1, `option --pre takes no value`},
		{"conflicting index", "-i https://a.example\n\n-i https://b.example", 3, `--index-url https://b.example conflicts with --index-url https://a.example on line 1`},
		{"per-requirement option", "flask==3.0.2 --config-settings=x=y" + ok, 1, `unsupported option --config-settings for requirement "flask==3.0.2"`},
		{"bad marker", "tomli==2.0.1 ; python_version < 3.11" + ok, 1, `invalid marker in requirement "tomli==2.0.1": invalid marker 'python_version < 3.11': value 3.11 must be quoted at position 18`},
		{"unknown marker variable", "tomli==2.0.1 ; python_versoin < '3.11'" + ok, 1, `invalid marker in requirement "tomli==2.0.1": invalid marker "python_versoin < '3.11'": unknown variable "python_versoin" at position 1`},
		{"empty marker", "tomli==2.0.1 ;" + ok, 1, `invalid requirement "tomli==2.0.1": empty marker after ';'`},
		{"invalid name start", "_flask==1" + ok, 1, `invalid requirement "_flask==1": it does not start with a valid package name`},
		{"invalid name character", "fl@sk==1" + ok, 1, `requirement "fl@sk==1" is a direct URL reference; pipbake installs pinned packages from an index only`},
		{"name with trailing separator", "flask-==1" + ok, 1, `invalid requirement "flask-==1": it does not start with a valid package name`},
		{"non-ASCII name", "flåsk==1" + ok, 1, `invalid requirement "flåsk==1": unexpected "åsk==1" after the package name`},
		{"two names", "flask jinja2==3.1.3" + ok, 1, `invalid requirement "flask jinja2==3.1.3": unexpected "jinja2==3.1.3" after the package name`},
		{"invalid extra", "requests[so cks]==2.31.0" + ok, 1, `invalid requirement "requests[so cks]==2.31.0": invalid extra name "so cks"`},
		{"unclosed extras", "requests[socks==2.31.0" + ok, 1, `invalid requirement "requests[socks==2.31.0": unclosed [ in extras`},
		{"comment without space is not a comment", "flask==3.0.2#pinned" + ok, 1, `invalid version in requirement "flask==3.0.2#pinned"`},
		{"duplicate without markers", "flask==3.0.2" + ok + "\n# x\nFlask==3.0.1" + ok, 3, `package "Flask" is pinned twice (lines 1 and 3) and not every pin has a marker; duplicate pins need mutually exclusive markers`},
		{"duplicate, one marker", "flask==3.0.2" + ok + "\nflask==3.0.1 ; os_name == 'nt'" + ok, 2, `package "flask" is pinned twice (lines 1 and 2) and not every pin has a marker; duplicate pins need mutually exclusive markers`},
		{"duplicate, same marker", "zope.interface==6.0 ; os_name == 'nt'" + ok + "\nzope-interface==6.1 ; os_name==\"nt\"" + ok, 2, `package "zope-interface" is pinned twice (lines 1 and 2) with the same marker; duplicate pins need mutually exclusive markers`},
	}
	for _, tt := range tests {
		_, err := Parse("api.txt", []byte(tt.data))
		errs := lockErrors(t, err)
		if len(errs) != 1 {
			t.Errorf("%s: got %d errors, want 1: %v", tt.name, len(errs), err)
			continue
		}
		want := fmt.Sprintf("api.txt:%d: %s", tt.line, tt.msg)
		got := errs[0].Error()
		if errs[0].File != "api.txt" || errs[0].Line != tt.line || !strings.HasPrefix(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, want)
		}
	}
}

func TestRequirementsReportsAllErrors(t *testing.T) {
	h := hash64("x")
	data := strings.Join([]string{
		"# header",                       // 1
		"flask>=2 --hash=sha256:" + h,    // 2: not pinned
		"requests==2.31.0 \\",            // 3: no hashes (continued)
		"    # via x",                    // 4
		"-r base.txt",                    // 5: include
		"six==1.16.0 --hash=sha256:" + h, // 6: fine
		"-e .",                           // 7: editable
		"tomli==2.0.1 ; python_version < 3.11 \\", // 8: bad marker
		"    --hash=sha256:" + h,                  // 9
		"--bogus",                                 // 10
		"six==1.15.0 --hash=sha256:" + h,          // 11: duplicate of 6
	}, "\n")
	l, err := Parse("api.txt", []byte(data))
	if l != nil {
		t.Error("Parse returned a Lock together with errors")
	}
	var lines []int
	for _, e := range lockErrors(t, err) {
		lines = append(lines, e.Line)
	}
	if want := []int{2, 3, 5, 7, 8, 10, 11}; !slices.Equal(lines, want) {
		t.Errorf("error lines = %v, want %v; errors:\n%v", lines, want, err)
	}
	if !strings.Contains(err.Error(), "api.txt:11: package \"six\" is pinned twice (lines 6 and 11)") {
		t.Errorf("joined error text lacks the duplicate:\n%v", err)
	}
}

func TestRequirementsBrokenContinuation(t *testing.T) {
	h := hash64("x")
	tests := []struct {
		name, data string
		want       []string
	}{
		{"missing backslash", "flask==3.0.2\n    --hash=sha256:" + h, []string{
			`api.txt:1: requirement "flask==3.0.2" has no --hash`,
			`api.txt:2: --hash without a requirement on the same line (is the previous line missing a continuation backslash, or has whitespace after it?)`,
		}},
		{"whitespace after backslash", "flask==3.0.2 \\ \n    --hash=sha256:" + h, []string{
			`api.txt:1: stray backslash: a line continuation must be the last character on its line`,
			`api.txt:2: --hash without a requirement on the same line`,
		}},
	}
	for _, tt := range tests {
		_, err := Parse("api.txt", []byte(tt.data))
		errs := lockErrors(t, err)
		if len(errs) != len(tt.want) {
			t.Errorf("%s: got %v, want %d errors", tt.name, err, len(tt.want))
			continue
		}
		for i, e := range errs {
			if !strings.HasPrefix(e.Error(), tt.want[i]) {
				t.Errorf("%s: error %d = %q, want prefix %q", tt.name, i, e, tt.want[i])
			}
		}
	}
}

func TestLogicalLines(t *testing.T) {
	tests := []struct {
		in   string
		want []logicalLine
	}{
		{"a\nb", []logicalLine{{1, "a"}, {2, "b"}}},
		{"a \\\n b \\\n c\nd", []logicalLine{{1, "a  b  c"}, {4, "d"}}},
		{"a\\\nb", []logicalLine{{1, "ab"}}},
		{"a \\\r\n b\r\n", []logicalLine{{1, "a  b"}, {3, ""}}},
		// A comment ends a continuation, and a backslash after a comment does not continue.
		{"a \\\n# c\nb", []logicalLine{{1, "a  # c"}, {3, "b"}}},
		{"a # c \\\nb", []logicalLine{{1, "a # c \\"}, {2, "b"}}},
		{"a \\", []logicalLine{{1, "a "}}},
	}
	for _, tt := range tests {
		if got := logicalLines(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("logicalLines(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
