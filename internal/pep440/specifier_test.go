package pep440

import (
	"errors"
	"testing"
)

func TestSpecifierContains(t *testing.T) {
	tests := []struct {
		spec    string
		matches []string
		rejects []string
	}{
		{"==1.1", []string{"1.1", "1.1.0", "v1.1", "1.1+local", "1.1.0+ubuntu.1"}, []string{"1.1.post1", "1.1a1", "1.1.dev1", "1.1.1", "1.0", "1!1.1"}},
		{"==1.1.post1", []string{"1.1.post1", "1.1-1", "1.1.0.post1+x"}, []string{"1.1", "1.1.post2"}},
		{"==1.1.*", []string{"1.1", "1.1.0", "1.1.post1", "1.1.5", "1.1a1", "1.1.9.dev3", "1.1+local"}, []string{"1.10", "1.2", "1.0", "1!1.1", "1"}},
		{"==1.0.*", []string{"1", "1.0", "1.0.0.10", "1.0rc1"}, []string{"1.1"}},
		{"==1.*", []string{"1", "1.99", "1.0a1", "1.5.post3"}, []string{"2.0", "0.9", "10.0"}},
		{"==1!2.*", []string{"1!2.0", "1!2.5"}, []string{"2.0", "2!2.0"}},
		{"==2.1.0+cpu", []string{"2.1.0+cpu", "2.1+CPU", "2.1.0+cpu"}, []string{"2.1.0", "2.1.0+cu121", "2.1.0+cpu.1"}},
		{"!=1.1", []string{"1.1.post1", "1.0", "1.1a1"}, []string{"1.1", "1.1.0", "1.1+local"}},
		{"!=1.1.*", []string{"1.10", "1.0", "2"}, []string{"1.1", "1.1.post1", "1.1.3"}},
		{"~=2.2", []string{"2.2", "2.3", "2.99", "2.2.post1", "2.5+local"}, []string{"3.0", "2.1", "2.2rc1", "3.0.dev0"}},
		{"~=1.4.5", []string{"1.4.5", "1.4.99"}, []string{"1.5", "1.4.4", "1.4.5a1"}},
		{"~=2.2.post3", []string{"2.2.post3", "2.3", "2.9"}, []string{"2.2", "2.2.post2", "3.0"}},
		{"~=1.4.5a4", []string{"1.4.5a4", "1.4.5", "1.4.9"}, []string{"1.4.5a3", "1.5"}},
		{"~=2.2.0", []string{"2.2.0", "2.2.9"}, []string{"2.3"}},
		{"~=1!1.0", []string{"1!1.0", "1!1.5"}, []string{"1.5", "1!2.0"}},
		{"<=2.0", []string{"2.0", "1.0", "2.0+local", "2.0rc1", "2.0.0"}, []string{"2.0.post1", "2.0.1"}},
		{">=2.0", []string{"2.0", "2.0+local", "3", "2.0.post1"}, []string{"2.0rc1", "2.0.dev0", "1.9"}},
		{"<2.0", []string{"1.9", "1.9.9.post1", "1.99+local", "0.1"}, []string{"2.0", "2.0a1", "2.0rc1", "2.0.dev0", "2.0+local", "2.1"}},
		{"<2.0rc1", []string{"2.0a1", "2.0b2", "2.0rc1.dev0", "1.0"}, []string{"2.0rc1", "2.0"}},
		{">1.7", []string{"1.7.1", "1.8", "1.8a1"}, []string{"1.7", "1.7.0.post1", "1.7+local", "1.7.0+local", "1.6"}},
		{">1.7.post2", []string{"1.7.1", "1.7.0.post3", "1.7.post3"}, []string{"1.7.0", "1.7.post2", "1.7.post1"}},
		{">1.0", []string{"1.0.1+local"}, []string{"1.0+local"}},
		{"===1.0", []string{"1.0"}, []string{"1.0.0", "1.0+local"}},
		{"===1.0RC1", []string{"1.0rc1", "1.0c1"}, []string{"1.0"}},
		{">=1.0,<2.0,!=1.5.*", []string{"1.0", "1.4.9", "1.6", "1.9.9"}, []string{"0.9", "1.5", "1.5.3", "2.0"}},
		{" >= 1.0 , < 2 , ", []string{"1.5"}, []string{"2.0", "0.1"}},
		{"", []string{"0", "1.0a1", "99!1+x"}, nil},
	}
	for _, tt := range tests {
		set, err := ParseSpecifier(tt.spec)
		if err != nil {
			t.Errorf("ParseSpecifier(%q): %v", tt.spec, err)
			continue
		}
		for _, v := range tt.matches {
			if !set.Contains(MustParse(v)) {
				t.Errorf("%q should contain %s", tt.spec, v)
			}
		}
		for _, v := range tt.rejects {
			if set.Contains(MustParse(v)) {
				t.Errorf("%q should not contain %s", tt.spec, v)
			}
		}
	}
}

func TestParseSpecifierStructure(t *testing.T) {
	set, err := ParseSpecifier("~= 0.9, >= 1.0, != 1.3.4.*, < 2.0, ===foo-bar")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op       Op
		text     string
		wildcard bool
	}{
		{OpCompatible, "0.9", false},
		{OpGreaterEqual, "1.0", false},
		{OpNotEqual, "1.3.4.*", true},
		{OpLess, "2.0", false},
		{OpArbitrary, "foo-bar", false},
	}
	if len(set) != len(want) {
		t.Fatalf("got %d clauses, want %d", len(set), len(want))
	}
	for i, w := range want {
		if set[i].Op != w.op || set[i].Text != w.text || set[i].Wildcard != w.wildcard {
			t.Errorf("clause %d = %+v, want %+v", i, set[i], w)
		}
	}
	if got := set[2].Version.String(); got != "1.3.4" {
		t.Errorf("wildcard prefix version = %q", got)
	}
	if got := set.String(); got != "~=0.9,>=1.0,!=1.3.4.*,<2.0,===foo-bar" {
		t.Errorf("String() = %q", got)
	}
	if got, _ := ParseSpecifier("==V1.0RC1,>=01.02"); got.String() != "==1.0rc1,>=1.2" {
		t.Errorf("String() of non-canonical input = %q", got.String())
	}
	if set, err := ParseSpecifier("  "); err != nil || len(set) != 0 {
		t.Errorf("blank specifier = %v, %v; want empty set", set, err)
	}
}

func TestParseSpecifierRejects(t *testing.T) {
	for _, in := range []string{
		"1.0",           // no operator
		"=1.0",          // not an operator
		"=>1.0",         // not an operator
		"==",            // no version
		">= ",           // no version
		"==1.0,,<2",     // empty clause
		",",             // only a comma
		"==1.0.*.*",     // double wildcard
		"==1.*.0",       // wildcard in the middle
		">=1.0.*",       // wildcard with an ordered comparison
		"~=1.0.*",       // wildcard with ~=
		"==1.0.dev1.*",  // dev release in a prefix
		"==1.0+foo.*",   // local version in a prefix
		"==2.0a1.*",     // pre-release in a prefix (packaging 26)
		"!=2.0.post1.*", // post-release in a prefix (packaging 26)
		"==1.0 .*",      // whitespace before .*
		"~=1",           // single segment ~=
		"~=1.0+local",   // local with ~=
		">=1.0+local",   // local with >=
		"<1.0+local",    // local with <
		"==not-version", // invalid version
		"===",           // empty arbitrary
		"===foo bar",    // whitespace in arbitrary
		"== 1.0 2.0",    // two versions
		"==1.0;",        // trailing garbage
	} {
		set, err := ParseSpecifier(in)
		if err == nil {
			t.Errorf("ParseSpecifier(%q) = %v, want error", in, set)
			continue
		}
		if !errors.Is(err, ErrInvalidSpecifier) {
			t.Errorf("ParseSpecifier(%q) error %v does not wrap ErrInvalidSpecifier", in, err)
		}
	}
}

func TestSpecifierAllowsPrereleases(t *testing.T) {
	// pipbake matches pins and markers; pre-releases are never filtered out.
	set, err := ParseSpecifier(">=3.8")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3.13.0a1", "3.13.0rc2", "3.13.0.dev0", "3.9.0b1"} {
		if !set.Contains(MustParse(v)) {
			t.Errorf(">=3.8 should contain pre-release %s", v)
		}
	}
}
