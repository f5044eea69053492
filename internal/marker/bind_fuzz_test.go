package marker

import (
	"strings"
	"testing"
)

// FuzzBind: for any marker that parses, binding part of an environment
// and evaluating what is left in the whole one agrees with evaluating the
// marker in the whole one; a decided marker has nothing left, and what is
// left prints as a marker that parses again.
func FuzzBind(f *testing.F) {
	for _, s := range []string{
		`python_version < "3.8" and extra == "socks"`,
		`(os_name == "nt" or sys_platform == "linux") and extra != "x"`,
		`extra == "a" or extra == "b" or python_full_version >= "3.11.0rc1"`,
		`"a" in sys_platform and "x" not in extras`,
		`platform_machine == "x86_64" and (implementation_name == "pypy" or extra == "")`,
	} {
		f.Add(s, "socks", true)
		f.Add(s, "", false)
	}
	f.Fuzz(func(t *testing.T, s, extra string, platformKnown bool) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		whole := Env{}
		for k, v := range linux311 {
			whole[k] = v
		}
		whole["extra"] = extra
		part := Env{"extra": extra}
		if platformKnown {
			part["sys_platform"], part["os_name"] = whole["sys_platform"], whole["os_name"]
		}
		rest, value, decided, err := e.Bind(part)
		want, werr := e.Evaluate(whole)
		if err != nil {
			if werr == nil {
				t.Fatalf("%q: Bind fails (%v) where Evaluate does not", s, err)
			}
			return
		}
		if decided {
			if rest.String() != "" {
				t.Fatalf("%q: decided, yet %q left", s, rest)
			}
			if werr == nil && value != want {
				t.Fatalf("%q: bound to %v, whole %v", s, value, want)
			}
			return
		}
		again, err := Parse(rest.String())
		if err != nil || again.String() != rest.String() {
			t.Fatalf("%q: what is left, %q, does not parse back: %v", s, rest, err)
		}
		if strings.Contains(rest.String(), "extra ==") && !strings.Contains(s, "extra") {
			t.Fatalf("%q: extra appeared in %q", s, rest)
		}
		got, gerr := rest.Evaluate(whole)
		if werr == nil && (gerr != nil || got != want) {
			t.Fatalf("%q: what is left, %q, gives %v (%v); the whole marker %v", s, rest, got, gerr, want)
		}
	})
}
