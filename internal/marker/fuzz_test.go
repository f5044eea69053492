package marker

import (
	"errors"
	"strings"
	"testing"
)

// FuzzMarker: Parse never panics and stays within MaxDepth; a parsed
// marker prints in a form that parses back and prints the same, and the
// two evaluate alike in every context (same answer, or both an error of
// the same kind). Messages stay short.
func FuzzMarker(f *testing.F) {
	for _, s := range []string{
		`python_version < "3.11" and sys_platform == "linux"`,
		`(os_name == "nt" or sys_platform == "linux") and python_version >= "3.9"`,
		`"toml" in extras or "dev" not in dependency_groups`,
		`extra == "Socks_Proxy"`,
		`platform_release >= "5.10"`,
		`"5.10" <= platform_release`,
		`python_full_version === "3.11.7"`,
		`sys_platform ~= "linux"`,
		`os_name == 'a"b' or os_name == "it\x27s\\"`,
		`os_name == "\u00e9\t\101"`,
		`python_version == python_full_version`,
		`"a" in "abc"`,
		`os.name == "posix" and platform.machine == "x86_64"`,
		strings.Repeat("(", MaxDepth) + `os_name == "posix"` + strings.Repeat(")", MaxDepth),
		strings.Repeat("(", MaxDepth+1),
		"python_version >= \"3\"\n",
	} {
		f.Add(s)
	}
	envs := []Env{linux311, windows38, {"python_full_version": "3.11.1+", "extras": "toml, Dev", "dependency_groups": "dev"}}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse error %v is no *SyntaxError with a position in the input", err)
			}
			if len(err.Error()) > 4*(maxQuoted+6)+4*40+300 { // an escaped excerpt, an escaped token and words
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			return
		}
		printed := e.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("%q prints as %q, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q prints as %q, then %q", s, printed, again.String())
		}
		for _, env := range envs {
			for _, ctx := range []Context{Metadata, LockFile, Requirement} {
				a, errA := e.EvaluateIn(env, ctx)
				b, errB := again.EvaluateIn(env, ctx)
				if a != b || (errA == nil) != (errB == nil) || !sameKind(errA, errB) {
					t.Fatalf("%q and its printed form %q: %v, %v and %v, %v", s, printed, a, errA, b, errB)
				}
			}
		}
	})
}

func sameKind(a, b error) bool {
	for _, kind := range []error{ErrUndefined, ErrUndefinedComparison, ErrNotVersion} {
		if errors.Is(a, kind) != errors.Is(b, kind) {
			return false
		}
	}
	return true
}
