package marker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Environments as reported by CPython on a Linux build host and an old
// Windows one.
var (
	linux311 = Env{
		"os_name":                        "posix",
		"sys_platform":                   "linux",
		"platform_machine":               "x86_64",
		"platform_python_implementation": "CPython",
		"platform_release":               "6.5.0-1025-azure",
		"platform_system":                "Linux",
		"platform_version":               "#26~22.04.1-Ubuntu SMP Thu Jul 11 22:33:04 UTC 2024",
		"python_version":                 "3.11",
		"python_full_version":            "3.11.9",
		"implementation_name":            "cpython",
		"implementation_version":         "3.11.9",
	}
	windows38 = Env{
		"os_name":                        "nt",
		"sys_platform":                   "win32",
		"platform_machine":               "AMD64",
		"platform_python_implementation": "CPython",
		"platform_release":               "10",
		"platform_system":                "Windows",
		"platform_version":               "10.0.17763",
		"python_version":                 "3.8",
		"python_full_version":            "3.8.10",
		"implementation_name":            "cpython",
		"implementation_version":         "3.8.10",
	}
)

func TestEvaluate(t *testing.T) {
	tests := []struct {
		marker         string
		linux, windows bool
	}{
		{`python_version < "3.11"`, false, true},
		{`python_version >= "3.11"`, true, false},
		{`python_version > "3.8"`, true, false},
		{`python_version <= "3.8"`, false, true},
		{`python_version == "3.11"`, true, false},
		{`python_version != "3.11"`, false, true},
		{`python_version ~= "3.8"`, true, true},
		{`python_version == "3.*"`, true, true},
		{`python_version == "3.1*"`, false, false}, // not a valid specifier: string comparison
		{`python_full_version >= "3.11.0rc1"`, true, false},
		{`python_full_version < "3.8.10"`, false, false},
		{`python_full_version === "3.8.10"`, false, true},
		{`implementation_version == "3.11.9"`, true, false},
		// versions compare numerically, not as strings
		{`python_version > "3.9"`, true, false},
		{`python_version < "3.10"`, false, true},
		{`sys_platform == "win32"`, false, true},
		{`sys_platform == 'linux'`, true, false},
		{`sys_platform != "win32"`, true, false},
		{`"win32" == sys_platform`, false, true},
		{`os_name == "nt" and platform_machine == "AMD64"`, false, true},
		{`platform_system == "Linux" or platform_system == "Darwin"`, true, false},
		{`platform_python_implementation == "CPython" and implementation_name == "cpython"`, true, true},
		// literal on the left: "3.9" < python_version means python_version > 3.9
		{`"3.9" < python_version`, true, false},
		{`"3.10" >= python_version`, false, true},
		// substring operators
		{`"SMP" in platform_version`, true, false},
		{`"SMP" not in platform_version`, false, true},
		{`"86" in platform_machine`, true, false},
		{`platform_machine in "x86_64 aarch64"`, true, false},
		// precedence: and binds tighter than or
		{`sys_platform == "win32" or sys_platform == "linux" and python_version < "3.9"`, false, true},
		{`(sys_platform == "win32" or sys_platform == "linux") and python_version < "3.9"`, false, true},
		{`sys_platform == "linux" or sys_platform == "win32" and python_version >= "3.11"`, true, false},
		{`(sys_platform == "linux" or sys_platform == "win32") and python_version >= "3.11"`, true, false},
		{`((python_version >= "3.8"))`, true, true},
		{`python_version>="3.8"and(sys_platform=="linux")`, true, false},
		// a value that is no version specifier compares as a string:
		// <= and >= mean ==, < and > are false (packaging 26)
		{`platform_release < "6.5.0-1025-b"`, false, false},
		{`platform_release == "6.5.0-1025-azure"`, true, false},
		{`platform_release <= "6.5.0-1025-azure"`, true, false},
		{`platform_release > "6.5.0-1025-azure"`, false, false},
		{`platform_release >= "6.5.0-1025-azure"`, true, false},
		{`platform_machine > "a"`, false, false},
		{`platform_machine >= "x86_64"`, true, false},
		{`python_full_version === "3.8.10"`, false, true}, // arbitrary equality on a version variable
		{`python_version === "3.11"`, true, false},
		{`sys_platform != "linux"`, false, true},
		{`"Ubuntu" in platform_version`, true, false},
		// legacy PEP 345 spellings
		{`sys.platform == "linux"`, true, false},
		{`os.name == "nt"`, false, true},
		{`python_implementation == "CPython"`, true, true},
		// tabs are whitespace
		{"python_version < \"3.11\"\tand os_name == 'nt'", false, true},
	}
	for _, tt := range tests {
		e, err := Parse(tt.marker)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.marker, err)
			continue
		}
		for _, c := range []struct {
			name string
			env  Env
			want bool
		}{{"linux 3.11", linux311, tt.linux}, {"windows 3.8", windows38, tt.windows}} {
			got, err := e.Evaluate(c.env)
			if err != nil {
				t.Errorf("%q on %s: %v", tt.marker, c.name, err)
			} else if got != c.want {
				t.Errorf("%q on %s = %v, want %v", tt.marker, c.name, got, c.want)
			}
		}
	}
}

func TestExtras(t *testing.T) {
	env := func(kv ...string) Env {
		e := Env{"python_version": "3.11"}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	tests := []struct {
		marker string
		env    Env
		want   bool
	}{
		// PEP 685: extra names compare normalized.
		{`extra == "Socks_Proxy"`, env("extra", "socks-proxy"), true},
		{`extra == "socks.proxy"`, env("extra", "SOCKS__PROXY"), true},
		{`"socks" == extra`, env("extra", "socks"), true},
		{`extra == "socks"`, env("extra", "security"), false},
		{`extra != "socks"`, env("extra", "security"), true},
		{`extra == "socks"`, env(), false}, // no extra requested
		{`extra != "socks"`, env(), true},
		{`extra > "a"`, env("extra", "b"), false}, // strings: < and > are false
		{`extra <= "b"`, env("extra", "B"), true}, // strings: <= is ==
		{`extra == "1.0"`, env("extra", "1-0"), true},
		// PEP 751 set variables.
		{`"toml" in extras`, env("extras", "yaml, TOML"), true},
		{`"toml" in extras`, env("extras", "yaml"), false},
		{`"toml" not in extras`, env("extras", "yaml"), true},
		{`"toml" in extras`, env(), false},
		{`"dev" in dependency_groups`, env("dependency_groups", "default,dev"), true},
		{`"Test_Unit" in dependency_groups`, env("dependency_groups", "test-unit"), true},
		{`"dev" in dependency_groups or python_version < "3.9"`, env("dependency_groups", "default"), false},
		{`"toml" == extras`, env("extras", "toml"), false}, // a string is not a set
		{`"toml" != extras`, env("extras", "toml"), true},
		{`"to" in extras`, env("extras", "toml"), false}, // membership, not substring
	}
	for _, tt := range tests {
		ctx := Metadata
		if strings.Contains(tt.marker, "extras") || strings.Contains(tt.marker, "dependency_groups") {
			ctx = LockFile
		}
		got, err := EvaluateIn(tt.marker, tt.env, ctx)
		if err != nil {
			t.Errorf("Evaluate(%q, %v): %v", tt.marker, tt.env, err)
		} else if got != tt.want {
			t.Errorf("Evaluate(%q, %v) = %v, want %v", tt.marker, tt.env, got, tt.want)
		}
	}
}

func TestEvaluateUndefinedVariable(t *testing.T) {
	env := Env{"python_version": "3.11"}
	for _, m := range []string{
		`sys_platform == "linux"`,
		`python_version < "3.8" and sys_platform == "linux"`, // no short-circuit hides it
		`python_version >= "3.8" or platform_release >= "5"`,
	} {
		_, err := Evaluate(m, env)
		if !errors.Is(err, ErrUndefined) {
			t.Errorf("Evaluate(%q) error = %v, want ErrUndefined", m, err)
		}
		if err != nil && !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not quote the marker", err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		marker string
		pos    int // 1-based, as printed
		msg    string
	}{
		{``, 1, "empty marker"},
		{`   `, 4, "empty marker"},
		{`python_version < 3.11`, 18, "value 3.11 must be quoted"},
		{`python_verison < "3.11"`, 1, `unknown variable "python_verison"`},
		{`python_version < "3.11`, 18, "unterminated string"},
		{`python_version = "3.11"`, 16, "invalid operator"},
		{`python_version "3.11"`, 16, "expected a comparison operator"},
		{`python_version <`, 17, "expected a variable or a quoted string, found end of marker"},
		{`python_version is "3.11"`, 16, "expected a comparison operator"},
		{`"a" not "b"`, 9, `expected "in" after "not"`},
		{`(python_version < "3.11"`, 25, `expected ")" to close "(" at position 1`},
		{`python_version < "3.11")`, 24, `unexpected ")"`},
		{`python_version < "3.11" and`, 28, "expected a variable or a quoted string"},
		{`python_version < "3.11" or or`, 28, `found word "or"`},
		{`python_version < "3.11" sys_platform == "x"`, 25, `unexpected word "sys_platform"`},
		{`"3.8" < python_version < "3.11"`, 24, `unexpected "<"`},
		{`python_version < "3.11" && os_name == "nt"`, 25, `unexpected character '&'`},
		{`not python_version == "3.11"`, 1, `found word "not"`},
		{`()`, 2, `found ")"`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.marker)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want *SyntaxError", tt.marker, err)
			continue
		}
		if se.Pos+1 != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q) = %q at %d, want %q at %d", tt.marker, se.Msg, se.Pos+1, tt.msg, tt.pos)
		}
		if se.Marker != tt.marker || !strings.Contains(err.Error(), tt.marker) {
			t.Errorf("error %q does not name the marker", err)
		}
	}
	// A marker containing both quote characters is quoted Go-style.
	_, err := Parse(`os_name == "nt" or os_name == 'posix' or`)
	if want := `invalid marker "os_name == \"nt\" or os_name == 'posix' or": `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want prefix %s", err, want)
	}
	if _, err := Evaluate(`os_name = "nt"`, linux311); err == nil {
		t.Error("Evaluate of an invalid marker succeeded")
	}
}

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`python_version<'3.11'`, `python_version < "3.11"`},
		{`  sys_platform   ==   "win32"  `, `sys_platform == "win32"`},
		{`platform_version == 'x"y'`, `platform_version == 'x"y'`},
		{`platform_version == "it's"`, `platform_version == "it's"`},
		{`"SMP"  not   in platform_version`, `"SMP" not in platform_version`},
		{`(os_name == "nt")`, `os_name == "nt"`},
		{`os_name == "nt" or (sys_platform == "linux" and python_version < "3.9")`, `os_name == "nt" or sys_platform == "linux" and python_version < "3.9"`},
		{`(os_name == "nt" or sys_platform == "linux") and python_version < "3.9"`, `(os_name == "nt" or sys_platform == "linux") and python_version < "3.9"`},
		{`python_version < "3.9" and (os_name == "nt" or sys_platform == "linux")`, `python_version < "3.9" and (os_name == "nt" or sys_platform == "linux")`},
		{`os.name == "nt"`, `os_name == "nt"`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := e.String()
		if got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		// Printing must preserve meaning: reparse and compare on both envs.
		again, err := Parse(got)
		if err != nil {
			t.Errorf("re-parsing %q: %v", got, err)
			continue
		}
		if again.String() != got {
			t.Errorf("String not stable: %q -> %q", got, again.String())
		}
	}
	var zero Expr
	if ok, err := zero.Evaluate(nil); !ok || err != nil || zero.String() != "" {
		t.Errorf("zero Expr = %v, %v, %q; want true, nil, \"\"", ok, err, zero.String())
	}
}

func TestVariables(t *testing.T) {
	e, err := Parse(`python_version < "3.9" and (sys_platform == "win32" or "dev" in dependency_groups) or python_version == "3.12"`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"python_version", "sys_platform", "dependency_groups"}
	if got := e.Variables(); !slices.Equal(got, want) {
		t.Errorf("Variables() = %v, want %v", got, want)
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		marker string
		env    Env
		ctx    Context
		want   error
	}{
		// pipbake's deliberate difference from packaging 26 (which says
		// false): a kernel release that is no version against a version.
		{`platform_release >= "5.10"`, linux311, Metadata, ErrNotVersion},
		{`platform_release != "5.10"`, linux311, Metadata, ErrNotVersion},
		{`platform_release ~= "5.10"`, linux311, Metadata, ErrNotVersion},
		{`"5.10" <= platform_release`, linux311, Metadata, ErrNotVersion},
		// strings have no ~= or ===
		{`sys_platform ~= "linux"`, linux311, Metadata, ErrUndefinedComparison},
		{`sys_platform === "linux"`, linux311, Metadata, ErrUndefinedComparison},
		{`"posix" ~= os_name`, linux311, Metadata, ErrUndefinedComparison},
		// sets only support membership tests
		{`extras == "toml"`, Env{"extras": "toml"}, LockFile, ErrUndefinedComparison},
		{`extras in "toml"`, Env{"extras": "toml"}, LockFile, ErrUndefinedComparison},
		{`"toml" ~= extras`, Env{"extras": "toml"}, LockFile, ErrUndefinedComparison},
		// packaging would compare a variable with the other one's name
		{`python_version == python_full_version`, linux311, Metadata, ErrUndefinedComparison},
		{`"linux" in "linux-gnu"`, linux311, Metadata, ErrUndefinedComparison},
		// contexts decide which of extra, extras, dependency_groups exist
		{`"toml" in extras`, linux311, Metadata, ErrUndefined},
		{`"toml" in extras`, linux311, Requirement, ErrUndefined},
		{`extra == "toml"`, linux311, LockFile, ErrUndefined},
		{`extra == "toml"`, linux311, Requirement, ErrUndefined},
	}
	for _, tt := range tests {
		got, err := EvaluateIn(tt.marker, tt.env, tt.ctx)
		if !errors.Is(err, tt.want) {
			t.Errorf("EvaluateIn(%q, %s) = %v, %v; want error %v", tt.marker, tt.ctx, got, err, tt.want)
		}
	}
	// The version variable's value is fine: no error.
	for _, m := range []string{`platform_release >= "7"`, `"5.10" <= platform_release`, `platform_release == "10"`} {
		if ok, err := Evaluate(m, windows38); err != nil || !ok {
			t.Errorf("%q on windows = %v, %v", m, ok, err)
		}
	}
	// An untagged CPython build's version reads as a local version.
	if ok, err := Evaluate(`python_full_version < "3.12"`, Env{"python_full_version": "3.11.1+"}); err != nil || !ok {
		t.Errorf("untagged build: %v, %v", ok, err)
	}
}

func TestStringLiterals(t *testing.T) {
	tests := []struct{ in, value string }{
		{`os_name == "a\tb"`, "a\tb"},
		{`os_name == "\x41\u00e9\U0001F600\101\0"`, "Aé😀A\x00"},
		{`os_name == "C:\\dir"`, `C:\dir`},
		{`os_name == "\d"`, `\d`}, // an unknown escape keeps its backslash
		{`os_name == 'it\x27s "x"'`, `it's "x"`},
		{"os_name == \"a\\\nb\"", "ab"}, // a backslash-newline is a line continuation
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.root.(*cmpNode).right.text; got != tt.value {
			t.Errorf("Parse(%q) value = %q, want %q", tt.in, got, tt.value)
		}
		again, err := Parse(e.String())
		if err != nil || again.String() != e.String() || again.root.(*cmpNode).right.text != tt.value {
			t.Errorf("%q prints as %q, which does not parse back to the same value (%v)", tt.in, e.String(), err)
		}
	}
	for _, in := range []string{
		`os_name == "C:\"`, `os_name == "\x"`, `os_name == "\x4"`, `os_name == "\u12"`,
		`os_name == "\U00110000"`, `os_name == "\ud800"`, `os_name == "\N{BULLET}"`,
		"os_name == \"a\nb\"", "os_name == \"a\x00b\"", "os_name == \"\xff\"",
	} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
	// A value holding both quote characters and a backslash prints escaped.
	e, err := Parse(`os_name == "a'\x22\\"`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.String(), `os_name == "a'\x22\\"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestDepthAndSize(t *testing.T) {
	// With -short (make check, under -race) the inputs are a tenth as big,
	// still far over the limits.
	scale := 1
	if testing.Short() {
		scale = 10
	}
	deep := func(n int) string {
		return strings.Repeat("(", n) + `os_name == "posix"` + strings.Repeat(")", n)
	}
	if ok, err := Evaluate(deep(MaxDepth), linux311); err != nil || !ok {
		t.Errorf("%d nested parentheses: %v, %v", MaxDepth, ok, err)
	}
	for _, n := range []int{MaxDepth + 1, 3_000_000 / scale} {
		_, err := Parse(deep(n))
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "nested more than") {
			t.Fatalf("%d nested parentheses: %v", n, err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("the error for a %d-byte marker is %d bytes long", len(deep(n)), len(err.Error()))
		}
	}
	// A long flat chain is no problem, and prints and evaluates in linear time.
	long := strings.Repeat(`os_name == "nt" or `, 200_000/scale) + `os_name == "posix"`
	e, err := Parse(long)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.Evaluate(linux311); err != nil || !ok {
		t.Errorf("long chain: %v, %v", ok, err)
	}
	if e.String() != long {
		t.Error("long chain does not print back as written")
	}
	_, err = Evaluate(long+" and", linux311)
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("error for a broken long marker: %d bytes", len(fmt.Sprint(err)))
	}
	// Not UTF-8: the excerpt must not grow over a run of continuation bytes.
	_, err = Parse(`os_name == "` + strings.Repeat("\xa5", 1<<20/scale) + `"`)
	if err == nil || len(err.Error()) > 1000 {
		t.Errorf("error for a megabyte of invalid UTF-8: %d bytes", len(fmt.Sprint(err)))
	}
}
func TestBind(t *testing.T) {
	tests := []struct {
		marker  string
		env     Env
		rest    string // "" when decided
		value   bool
		decided bool
	}{
		{`python_version < "3.8" and extra == "socks"`, Env{"extra": "socks"}, `python_version < "3.8"`, false, false},
		{`python_version < "3.8" and extra == "socks"`, Env{"extra": ""}, "", false, true},
		{`(python_version < "3.8" or os_name == "nt") and extra == "Socks"`, Env{"extra": "socks"}, `python_version < "3.8" or os_name == "nt"`, false, false},
		{`extra == "a" or extra == "b"`, Env{"extra": "b"}, "", true, true},
		{`extra == "a" or sys_platform == "win32"`, Env{"extra": "c"}, `sys_platform == "win32"`, false, false},
		{`extra == "a" or sys_platform == "win32"`, Env{"extra": "a"}, "", true, true},
		{`python_version >= "3.8"`, Env{"extra": ""}, `python_version >= "3.8"`, false, false},
		{`python_version >= "3.8" and sys_platform == "linux"`, linux311, "", true, true},
		{`python_version >= "3.8" and platform_release == "x"`, Env{"python_version": "3.7"}, "", false, true},
		{`python_version >= "3.8" and platform_release == "x"`, Env{"python_version": "3.11"}, `platform_release == "x"`, false, false},
		{`extra == "x"`, Env{}, `extra == "x"`, false, false},
	}
	// Two literals compared are an error in Bind as in Evaluate, whatever
	// the rest of the marker.
	if e, err := Parse(`"a" == "a" and os_name == "nt"`); err != nil {
		t.Fatal(err)
	} else if _, _, _, err := e.Bind(Env{}); !errors.Is(err, ErrUndefinedComparison) {
		t.Errorf("two literals bound: %v, want %v", err, ErrUndefinedComparison)
	}
	for _, tt := range tests {
		e, err := Parse(tt.marker)
		if err != nil {
			t.Fatal(err)
		}
		rest, value, decided, err := e.Bind(tt.env)
		if err != nil {
			t.Errorf("%s: %v", tt.marker, err)
			continue
		}
		if rest.String() != tt.rest || decided != tt.decided || (decided && value != tt.value) {
			t.Errorf("%s bound to %v: rest %q value %v decided %v; want %q %v %v", tt.marker, tt.env, rest, value, decided, tt.rest, tt.value, tt.decided)
		}
		// What is left, evaluated in the rest of an environment, agrees
		// with evaluating the whole marker in the union.
		for _, full := range []Env{linux311, windows38} {
			union := Env{}
			for k, v := range full {
				union[k] = v
			}
			for k, v := range tt.env {
				union[k] = v
			}
			want, err1 := e.Evaluate(union)
			got, err2 := value, error(nil)
			if !decided {
				got, err2 = rest.Evaluate(union)
			}
			if err1 != nil || err2 != nil || got != want {
				t.Errorf("%s in %v: bound gives %v (%v), whole %v (%v)", tt.marker, union, got, err2, want, err1)
			}
		}
	}
	var empty Expr
	if rest, v, d, err := empty.Bind(Env{}); rest.String() != "" || !v || !d || err != nil {
		t.Errorf("empty marker: %q %v %v %v", rest, v, d, err)
	}
}
