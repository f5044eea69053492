package pep440

import "testing"

var fuzzVersions = []string{
	"1.0", "v1.0", "1!2.0rc1.post3.dev4+ubuntu.1", "1.0a", "1.0-1", "1.0.post", "1.0.dev",
	"1.0_RC-1", " 1.0\t", "1.0+ABC.01", "00.01", "1.0alpha1", "1.0c1", "1.0rev2", "1.0-r3",
	"99999999999999999999", "1.0+", "1..0", "1.0.*", "2010i", "1.0+local-1_2",
}

// FuzzVersion: Parse never panics; a parsed version prints in a canonical
// form that parses back to an equal version and prints the same; the
// order is reflexive and its derived parts are consistent.
func FuzzVersion(f *testing.F) {
	for _, v := range fuzzVersions {
		f.Add(v, "1.0")
	}
	f.Fuzz(func(t *testing.T, s, other string) {
		v, err := Parse(s)
		if err != nil {
			if len(err.Error()) > 2*(4*maxQuoted+30)+200 { // two quoted excerpts, each at most maxQuoted bytes escaped
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			return
		}
		canon := v.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", s, canon, err)
		}
		if again.String() != canon || Compare(v, again) != 0 {
			t.Fatalf("Parse(%q) = %s, then %s", s, canon, again)
		}
		base1, base2 := Compare(v.BaseVersion(), v.Public()), Compare(v.BaseVersion(), v.Public())
		if Compare(v, v) != 0 || Compare(v.Public(), v) > 0 || base1 != base2 {
			t.Fatalf("%s: order is inconsistent", canon)
		}
		if v.IsDevrelease() && !v.IsPrerelease() {
			t.Fatalf("%s: a dev release that is no pre-release", canon)
		}
		if w, err := Parse(other); err == nil {
			if Compare(v, w) != -Compare(w, v) {
				t.Fatalf("Compare(%s, %s) is not antisymmetric", v, w)
			}
			if (Compare(v, w) == 0) != (v.String() == w.String()) && len(v.Release()) == len(w.Release()) {
				t.Fatalf("%s and %s: equal order but different canonical form", v, w)
			}
		}
	})
}

// FuzzSpecifier: ParseSpecifier never panics; a parsed set prints in a
// form that parses back to a set that contains the same versions.
func FuzzSpecifier(f *testing.F) {
	for _, s := range []string{">=1.0,<2", "~=1.4.5a4", "==1.*", "!=1.0.post1", "===foo", ">1.0.dev1", "<1.0.post1", "==1.0+local", " >= 1.0 , ", "==2.0a1.*"} {
		for _, v := range fuzzVersions[:8] {
			f.Add(s, v)
		}
	}
	f.Fuzz(func(t *testing.T, spec, version string) {
		set, err := ParseSpecifier(spec)
		if err != nil {
			if len(err.Error()) > 3*(4*maxQuoted+30)+300 {
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			return
		}
		again, err := ParseSpecifier(set.String())
		if err != nil {
			t.Fatalf("ParseSpecifier(%q) prints as %q, which does not parse: %v", spec, set.String(), err)
		}
		if again.String() != set.String() || len(again) != len(set) {
			t.Fatalf("%q prints as %q, then %q", spec, set.String(), again.String())
		}
		v, err := Parse(version)
		if err != nil {
			return
		}
		if set.Contains(v) != again.Contains(v) {
			t.Fatalf("%q and its printed form %q disagree on %s", spec, set.String(), v)
		}
		all := true
		for _, c := range set {
			all = all && c.Contains(v)
			// !=X is exactly not ==X.
			if c.Op == OpEqual || c.Op == OpNotEqual {
				flip := c
				if c.Op == OpEqual {
					flip.Op = OpNotEqual
				} else {
					flip.Op = OpEqual
				}
				if c.Contains(v) == flip.Contains(v) {
					t.Fatalf("%s and %s agree on %s", c, flip, v)
				}
			}
		}
		if all != set.Contains(v) {
			t.Fatalf("%q: the set and its clauses disagree on %s", spec, v)
		}
	})
}
