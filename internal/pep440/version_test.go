package pep440

import (
	"errors"
	"slices"
	"testing"
)

func TestParseNormalizes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.0", "1.0"},
		{"1", "1"},
		{"1.2.3.4.5", "1.2.3.4.5"},
		{"v1.0", "1.0"},
		{"V1.0", "1.0"},
		{"  1.0\n", "1.0"},
		{"\t1.0\f\v\r", "1.0"},
		{"00.010.0900", "0.10.900"},
		{"0!1.0", "1.0"},
		{"1!1.0", "1!1.0"},
		{"01!2", "1!2"},
		// pre-releases
		{"1.0a1", "1.0a1"},
		{"1.0.RC1", "1.0rc1"},
		{"1.1RC1", "1.1rc1"},
		{"1.0-a1", "1.0a1"},
		{"1.0_b2", "1.0b2"},
		{"1.0a.1", "1.0a1"},
		{"1.0alpha1", "1.0a1"},
		{"1.0beta2", "1.0b2"},
		{"1.0c3", "1.0rc3"},
		{"1.0pre4", "1.0rc4"},
		{"1.0preview5", "1.0rc5"},
		{"1.0-preview-5", "1.0rc5"},
		{"1.2a", "1.2a0"},
		{"1.0a.", "1.0a0"},
		{"1.0a-", "1.0a0"},
		{"1.0-dev-", "1.0.dev0"},
		// post-releases
		{"1.0-post1", "1.0.post1"},
		{"1.0post1", "1.0.post1"},
		{"1.0_post1", "1.0.post1"},
		{"1.2.post-2", "1.2.post2"},
		{"1.0-r4", "1.0.post4"},
		{"1.0rev4", "1.0.post4"},
		{"1.0.r", "1.0.post0"},
		{"1.2.post", "1.2.post0"},
		{"1.0-1", "1.0.post1"},
		{"1.0a1-1", "1.0a1.post1"},
		{"1.0a--1", "1.0a0.post1"},
		{"1.0a.post1", "1.0a0.post1"},
		// dev releases
		{"1.2-dev2", "1.2.dev2"},
		{"1.2dev2", "1.2.dev2"},
		{"1.2.dev", "1.2.dev0"},
		{"1.2_DEV_3", "1.2.dev3"},
		{"1.0rc1.post2.dev3", "1.0rc1.post2.dev3"},
		{"1.0RC1-2-dev-3", "1.0rc1.post2.dev3"},
		// local versions
		{"1.0+ubuntu-1", "1.0+ubuntu.1"},
		{"1.0+Ubuntu_1.A", "1.0+ubuntu.1.a"},
		{"1.0+foo0100", "1.0+foo0100"},
		{"1.0+007", "1.0+7"},
		{"1.0+0", "1.0+0"},
		{"2.1.0+cu121", "2.1.0+cu121"},
		{"1!2.0b3.post4.dev5+abc.6", "1!2.0b3.post4.dev5+abc.6"},
		{"18446744073709551615", "18446744073709551615"},
	}
	for _, tt := range tests {
		v, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := v.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		// The normal form must parse back to itself.
		if again := MustParse(v.String()).String(); again != tt.want {
			t.Errorf("re-parsing %q gave %q", tt.want, again)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", " ", "v", "vv1.0", "1.", ".1", "1..0", "1.0-", "1.0_", "a1",
		"1.0+", "1.0+foo.", "1.0+foo..bar", "1.0+foo bar", "1.0+f*o",
		"1 .0", "1.0 a1", "1.0.dev1.dev2", "1.0.post1.post2",
		"1.0a1b2", "1!", "!1", "1!2!3", "1.0*", "1.0.*", "1.0ö", "1,0",
		"1.0-1-1", "1.0.post1-1", "1.0.devx", "18446744073709551616",
		"1.0 # comment", "latest",
	} {
		v, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error", in, v)
			continue
		}
		if !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalidVersion", in, err)
		}
	}
}

func TestAccessors(t *testing.T) {
	v := MustParse("3!1.2.3rc4.post5.dev6+Local.07")
	if v.Epoch() != 3 {
		t.Errorf("Epoch = %d", v.Epoch())
	}
	if got := v.Release(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("Release = %v", got)
	}
	if l, n, ok := v.Pre(); l != "rc" || n != 4 || !ok {
		t.Errorf("Pre = %q %d %v", l, n, ok)
	}
	if n, ok := v.Post(); n != 5 || !ok {
		t.Errorf("Post = %d %v", n, ok)
	}
	if n, ok := v.Dev(); n != 6 || !ok {
		t.Errorf("Dev = %d %v", n, ok)
	}
	if v.Local() != "local.7" {
		t.Errorf("Local = %q", v.Local())
	}
	if got := v.Public().String(); got != "3!1.2.3rc4.post5.dev6" {
		t.Errorf("Public = %q", got)
	}
	if got := v.BaseVersion().String(); got != "3!1.2.3" {
		t.Errorf("BaseVersion = %q", got)
	}
	if !v.IsPrerelease() || !v.IsPostrelease() {
		t.Errorf("IsPrerelease/IsPostrelease = %v/%v", v.IsPrerelease(), v.IsPostrelease())
	}
	// Release returns a copy.
	v.Release()[0] = 99
	if v.String() != "3!1.2.3rc4.post5.dev6+local.7" {
		t.Errorf("Release() aliased internal state: %s", v)
	}

	final := MustParse("1.0")
	if _, _, ok := final.Pre(); ok || final.IsPrerelease() || final.IsPostrelease() || final.Local() != "" {
		t.Errorf("final release reports suffixes: %+v", final)
	}
	if !MustParse("1.0.dev0").IsPrerelease() {
		t.Error("1.0.dev0 should be a pre-release")
	}
	if MustParse("1.0.post1").IsPrerelease() {
		t.Error("1.0.post1 should not be a pre-release")
	}
}

func TestCompareOrdering(t *testing.T) {
	// Each list is in strictly ascending order.
	orders := [][]string{
		{"1.0.dev0", "1.0a1", "1.0b2.post3", "1.0rc1", "1.0", "1.0.post1", "1.1"},
		// The specification's own example, in order.
		{
			"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
			"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345",
			"1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5",
			"1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1",
		},
		{"0.9", "0.10", "0.99", "1.0", "1.0.1", "1.1", "2", "10.0", "2000.1"},
		{"2.0", "1!0.1", "1!1.0", "2!0.0.dev0"},
		{"1.0+a", "1.0+a.b", "1.0+a.0", "1.0+a.1", "1.0+a.2", "1.0+a.10", "1.0+b", "1.0+0", "1.0+1.a"},
		{"1.0a0", "1.0a1", "1.0a2", "1.0a10"},
		{"1.0.post0.dev0", "1.0.post0", "1.0.post1.dev9", "1.0.post1"},
		{"1.0rc1.dev1", "1.0rc1", "1.0rc1.post1.dev1", "1.0rc1.post1", "1.0"},
		{"0.0.0.dev20240101", "0.0.0"},
	}
	for _, order := range orders {
		for i := range order {
			for j := range order {
				a, b := MustParse(order[i]), MustParse(order[j])
				want := 0
				if i < j {
					want = -1
				} else if i > j {
					want = 1
				}
				if got := Compare(a, b); got != want {
					t.Errorf("Compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
				}
			}
		}
	}
}

func TestCompareEqual(t *testing.T) {
	for _, pair := range [][2]string{
		{"1.0", "1.0.0"},
		{"1", "1.0.0.0"},
		{"1.0", "v1.0"},
		{"1.0rc1", "1.0c1"},
		{"1.0RC1", "1.0.rc.1"},
		{"1.0-1", "1.0.post1"},
		{"0!1.0", "1.0"},
		{"1.0+ABC.01", "1.0+abc.1"},
		{"1.0+abc-1", "1.0+abc.1"},
	} {
		if c := Compare(MustParse(pair[0]), MustParse(pair[1])); c != 0 {
			t.Errorf("Compare(%s, %s) = %d, want 0", pair[0], pair[1], c)
		}
	}
	if c := Compare(MustParse("1.0+abc"), MustParse("1.0")); c != 1 {
		t.Errorf("a local version must sort after its public version, got %d", c)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of an invalid version did not panic")
		}
	}()
	MustParse("not a version")
}
